"""Every page in a real browser, used as a person would: keyboard on sliders, save, approve, download."""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import expect

from scoring.calibrate import calibration_view
from scoring.config import config_from_dict, load_config
from scoring.features import extract_features
from scoring.source import open_source
from scoring.store import ConfigStore

from .conftest import ROOT, shot

DEFAULT = ROOT / "data" / "configs" / "default.yaml"
WAIT = 60_000


def _no_exception(page, server):
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception is shown on the page"
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]


def _settled(page):
    """Wait until the script run is over (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(500)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=WAIT)


def _metric(page, label: str):
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


def _slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")


def _expected_kpis(server, data: dict) -> dict:
    draft = config_from_dict(data)
    with open_source(server["db"]) as source:
        features = extract_features(source, draft)
    view = calibration_view(draft, load_config(DEFAULT), features)
    return view.draft.kpis


def _pct(x):
    return f"{100 * x:.1f}%"


def test_first_load_with_quick_slider_moves(page, server):
    """The very first load, with keys pressed while the app is still warming up."""
    page.goto(server["url"])
    thumb = _slider(page, "MQL threshold")
    thumb.wait_for(timeout=WAIT)
    thumb.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")  # +5 while the first run may still be computing
    expect(_metric(page, "AUC")).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(1500)
    _no_exception(page, server)


def test_sliders_by_keyboard_change_kpis_to_what_scoring_computes(page, server):
    page.goto(server["url"])
    expect(_metric(page, "Conversions ≥ MQL")).to_be_visible(timeout=WAIT)
    data = yaml.safe_load(DEFAULT.read_text())
    before = _expected_kpis(server, data)
    expect(_metric(page, "AUC")).to_have_text(f"{before['auc']:.3f}", timeout=WAIT)

    points = _slider(page, "demo_request: points")
    points.focus()
    for _ in range(10):  # step 0.5: 20 -> 15
        page.keyboard.press("ArrowLeft")
    data["engagement"][0]["points"] = 15.0
    after_points = _expected_kpis(server, data)
    expect(_metric(page, "AUC")).to_have_text(f"{after_points['auc']:.3f}", timeout=WAIT)
    assert after_points["auc"] != before["auc"]

    threshold = _slider(page, "MQL threshold")
    threshold.focus()
    for _ in range(5):  # step 1: 40 -> 35
        page.keyboard.press("ArrowLeft")
    data["thresholds"]["mql"] = 35.0
    after = _expected_kpis(server, data)
    expect(_metric(page, "MQL conversion")).to_have_text(_pct(after["mql"]["rate"]), timeout=WAIT)
    expect(_metric(page, "MQLs per month")).to_have_text(f"{after['mql_per_month']:,.0f}", timeout=WAIT)
    expect(_metric(page, "Conversions ≥ MQL")).to_have_text(_pct(after["capture_at_mql"]), timeout=WAIT)
    # the chart follows: its MQL line is labelled with the new threshold
    expect(page.locator(".js-plotly-plot").first.get_by_text("MQL 35")).to_be_visible(timeout=WAIT)
    _settled(page)
    shot(page, "calibrate")

    # save the draft
    page.get_by_label("Model name").fill("e2e-draft")
    page.get_by_label("Note").fill("demo requests weigh less")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"Saved as e2e-draft@1"))).to_be_visible(timeout=WAIT)
    saved = ConfigStore(server["store"]).load("e2e-draft", 1)
    assert saved.engagement[0].points == 15.0 and saved.thresholds.mql == 35.0
    _no_exception(page, server)


def test_configs_approve_and_download(page, server):
    store = ConfigStore(server["store"])
    if "e2e-draft" not in store.models():
        store.save("e2e-draft", load_config(DEFAULT), note="seeded by the test")
    page.goto(server["url"] + "/configs")
    expect(page.get_by_role("heading", name="Approved configs")).to_be_visible(timeout=WAIT)
    page.get_by_label("Signed off for sales by").fill("Sam Sales")
    page.get_by_label("Signed off for marketing by").fill("Mia Marketing")
    page.get_by_label("Rationale").fill("Agreed in the e2e meeting")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(re.compile(r"champion is now e2e-draft@1"))).to_be_visible(timeout=WAIT)
    assert store.approval("e2e-draft", 1)["rationale"] == "Agreed in the e2e meeting"
    shot(page, "configs")
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name="YAML").click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert config_from_dict(yaml.safe_load(text)) == store.load("e2e-draft", 1)
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name=re.compile(r"^SQL")).click()
    assert "generated by leadcal" in open(info.value.path(), encoding="utf-8").read()
    assert [e["action"] for e in store.audit()][-2:] == ["export", "export"]
    _no_exception(page, server)


@pytest.mark.parametrize("path, heading", [("/attributes", "Let the data speak"), ("/drift", "Score drift"),
                                           ("/data_quality", "Data quality"), ("/import_data", "Import your data")])
def test_other_pages_open_directly(page, server, path, heading):
    """Opened by URL (a bookmark): the page, the app's menu, no exception."""
    page.goto(server["url"] + path)
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Calibrate", timeout=WAIT)
    _settled(page)
    shot(page, path.strip("/"))
    _no_exception(page, server)
