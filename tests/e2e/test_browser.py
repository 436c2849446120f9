"""Every page in a real browser, used as a person would: keyboard on sliders, save, approve, download."""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import expect

from scoring.model.config import config_from_dict, load_config
from scoring.registry.store import ConfigStore

from .conftest import ROOT, shot
from .helpers import WAIT, expect_kpis, kpis_of, metric, no_exception, press, select, settled, thumbs

DEFAULT = ROOT / "data" / "configs" / "default.yaml"


def _pct(x):
    return f"{100 * x:.1f}%"


def test_first_load_with_quick_slider_moves(page, server):
    """The very first load, with keys pressed while the app is still warming up."""
    page.goto(server["url"])
    mql = thumbs(page, "MQL and SQL thresholds").first
    mql.wait_for(timeout=WAIT)
    mql.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")  # +5 while the first run may still be computing
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(1500)
    no_exception(page, server)


def test_sliders_by_keyboard_change_kpis_to_what_scoring_computes(page, server):
    page.goto(server["url"])
    expect(metric(page, "Conversions ≥ MQL")).to_be_visible(timeout=WAIT)
    data = yaml.safe_load(DEFAULT.read_text())
    before = kpis_of(server["db"], config_from_dict(data))
    expect(metric(page, "AUC")).to_have_text(f"{before.auc:.3f}", timeout=WAIT)

    press(page, thumbs(page, "demo_request: points"), "ArrowLeft", 5)  # whole points: 20 -> 15
    data["engagement"][0]["points"] = 15.0
    after_points = kpis_of(server["db"], config_from_dict(data))
    expect(metric(page, "AUC")).to_have_text(f"{after_points.auc:.3f}", timeout=WAIT)
    assert after_points.auc != before.auc

    press(page, thumbs(page, "MQL and SQL thresholds").first, "ArrowLeft", 5)  # MQL 40 -> 35
    data["thresholds"]["mql"] = 35.0
    after = kpis_of(server["db"], config_from_dict(data))
    expect_kpis(page, after)
    expect(metric(page, "Conversions ≥ MQL")).to_have_text(_pct(after.capture_at_mql), timeout=WAIT)
    # the chart follows: its MQL line is labelled with the new threshold
    expect(page.locator(".st-key-band_chart").get_by_text("MQL 35", exact=True)).to_be_visible(timeout=WAIT)
    settled(page)
    shot(page, "calibrate")

    # save the draft
    page.get_by_label("Model name").fill("e2e-draft")
    page.get_by_label("Note").fill("demo requests weigh less")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"Saved as e2e-draft@1"))).to_be_visible(timeout=WAIT)
    saved = ConfigStore(server["store"]).load("e2e-draft", 1)
    assert saved.engagement[0].points == 15.0 and saved.thresholds.mql == 35.0
    no_exception(page, server)


def test_kpis_show_their_change_in_words_and_colour_and_their_help_by_keyboard(page, server):
    """ui.kpi_row on the page: the line under a KPI is its change from the approved model, green with an arrow
    up when better, red with an arrow down when worse; a screen reader finds each KPI by its label, and the
    question mark beside it is reached by Tab, says what the figure means and goes with Escape."""
    from scoring.analysis.glossary import HELP

    page.goto(server["url"])
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    data = yaml.safe_load(DEFAULT.read_text())
    before = kpis_of(server["db"], config_from_dict(data))
    press(page, thumbs(page, "MQL and SQL thresholds").first, "ArrowLeft", 5)  # MQL 40 -> 35: more MQLs
    data["thresholds"]["mql"] = 35.0
    after = kpis_of(server["db"], config_from_dict(data))
    expect_kpis(page, after)
    mqls = page.get_by_role("group", name="MQLs per month", exact=True).get_by_test_id("leadcal-kpi-delta")
    more = after.mql_per_month - before.mql_per_month
    assert more > 0
    expect(mqls).to_have_text(f"↑{more:+,.0f}")
    expect(mqls).to_have_class(re.compile(r"\blc-tone-green\b"))
    rate = page.get_by_role("group", name="MQL conversion", exact=True).get_by_test_id("leadcal-kpi-delta")
    change = 100 * (after.mql.rate - before.mql.rate)
    assert change < -0.05  # a lower line lets weaker leads in
    expect(rate).to_have_text(f"↓{change:+,.1f} pts")
    expect(rate).to_have_class(re.compile(r"\blc-tone-red\b"))
    auc = page.get_by_role("group", name="AUC", exact=True).get_by_test_id("leadcal-kpi-delta")
    expect(auc).to_have_text("same")  # thresholds do not rank leads
    help_mark = page.get_by_role("button", name="What AUC means", exact=True)
    tip = page.get_by_role("tooltip").filter(has_text=HELP["AUC"])
    expect(tip).to_be_hidden()
    # from just before the KPI rows, one Tab: the question mark is in the page's tab order
    help_mark.evaluate("el => { const rows = el.closest('.lc-kpis'); rows.tabIndex = -1; rows.focus(); }")
    page.keyboard.press("Tab")
    assert help_mark.evaluate("el => el === document.activeElement")
    expect(tip).to_be_visible()
    page.keyboard.press("Escape")
    expect(tip).to_be_hidden()
    no_exception(page, server)


def test_configs_approve_and_download(page, server):
    store = ConfigStore(server["store"])
    if "e2e-draft" not in store.models():
        store.save("e2e-draft", load_config(DEFAULT), note="seeded by the test")
    page.goto(server["url"] + "/configs")
    expect(page.get_by_role("heading", name="Approved configs")).to_be_visible(timeout=WAIT)
    select(page, "Version to approve", "e2e-draft@1")
    page.get_by_label("Signed off for sales by").fill("Sam Sales")
    page.get_by_label("Signed off for marketing by").fill("Mia Marketing")
    page.get_by_label("Rationale").fill("Agreed in the e2e meeting")
    page.get_by_role("button", name="Approve e2e-draft@1...").click()
    page.get_by_role("dialog").get_by_role("button", name="Approve e2e-draft@1").click()
    expect(page.get_by_text(re.compile(r"champion is now e2e-draft@1"))).to_be_visible(timeout=WAIT)
    assert store.approval("e2e-draft", 1)["rationale"] == "Agreed in the e2e meeting"
    settled(page)
    shot(page, "configs")
    select(page, "Version", "e2e-draft@1")
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name="YAML").click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert config_from_dict(yaml.safe_load(text)) == store.load("e2e-draft", 1)
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name=re.compile(r"^SQL")).click()
    assert "generated by leadcal" in open(info.value.path(), encoding="utf-8").read()
    assert [e["action"] for e in store.audit()][-2:] == ["export", "export"]
    no_exception(page, server)


@pytest.mark.parametrize("path, heading", [("/attributes", "Let the data speak"), ("/drift", "Score drift"),
                                           ("/data_quality", "Data quality"), ("/import_data", "Import your data")])
def test_other_pages_open_directly(page, server, path, heading):
    """Opened by URL (a bookmark): the page, the app's menu, no exception."""
    page.goto(server["url"] + path)
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav).to_contain_text("Calibrate", timeout=WAIT)
    settled(page)
    shot(page, path.strip("/"))
    no_exception(page, server)


def test_account_view_shows_what_scoring_computes_and_its_chart_follows_the_mqa_slider(page, server):
    """Score -> Accounts: the account AUC is scoring's, the band chart has a bar per band
    and its MQA line moves with the MQA slider (the chart's data changes, the chart stays)."""
    from scoring.analysis.calibrate import account_view, calibration_view
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source

    from .helpers import chart_marks

    config = load_config(DEFAULT)
    with open_source(server["db"]) as source:
        features = extract_features(source, config)
    expected = account_view(calibration_view(config, config, features), features)
    page.goto(server["url"])
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    page.locator('[data-testid="stButtonGroup"]').get_by_text("Accounts", exact=True).click()
    expect(metric(page, "Account AUC")).to_have_text(f"{expected.draft.auc:.3f}", timeout=WAIT)
    chart = page.locator(".st-key-account_band_chart")
    mqa = config.accounts.thresholds.mql
    expect(chart.get_by_text(f"MQA {mqa:g}", exact=True)).to_be_visible(timeout=WAIT)
    settled(page)
    bars = [m for m in chart_marks(page, "account_band_chart") if m.get("series") == "draft: mature accounts (right axis)"]
    assert [int(m["mature accounts"].replace(",", "")) for m in bars] == [b.leads for b in expected.draft.bands]
    press(page, thumbs(page, "MQA and SQA thresholds (accounts)").first, "ArrowLeft", 5)
    expect(chart.get_by_text(f"MQA {mqa - 5:g}", exact=True)).to_be_visible(timeout=WAIT)
    expect(chart.get_by_text(f"approved MQA {mqa:g}", exact=True)).to_be_visible(timeout=WAIT)
    shot(page, "calibrate-accounts")
    no_exception(page, server)


def test_moves_that_rerun_only_the_results_leave_the_rest_of_the_page_right(page, server):
    """A points move after the first reruns only the results fragment (ui.rerun_scope): the KPIs and the chart
    follow scoring, the controls stay on screen with their values, "unsaved changes" stays; the move that makes
    the draft equal to where it started again reruns the workspace, so that line goes; with the drill-down open a
    move redraws it too."""
    from scoring.analysis.calibrate import calibration_view
    from scoring.data.extract import extract_features
    from scoring.data.source import open_source

    page.goto(server["url"])
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    settled(page)
    data = yaml.safe_load(DEFAULT.read_text())
    points = thumbs(page, "demo_request: points")
    start = data["engagement"][0]["points"]
    press(page, points, "ArrowLeft", 5)
    data["engagement"][0]["points"] = start - 5
    expect_kpis(page, kpis_of(server["db"], config_from_dict(data)))
    unsaved = page.get_by_text("unsaved changes")
    expect(unsaved).to_be_visible()
    assert page.locator('[data-testid="stSlider"]').filter(has_text=": points").count() == 10
    assert float(points.input_value()) == start - 5
    expect(page.get_by_text("A lead is an MQL at the left handle's score or more", exact=False)).to_be_visible()

    press(page, points, "ArrowRight", 5)  # back where it started: the workspace reruns, the line goes
    expect_kpis(page, kpis_of(server["db"], config_from_dict(yaml.safe_load(DEFAULT.read_text()))))
    expect(unsaved).to_have_count(0, timeout=WAIT)

    page.get_by_text("Which leads? Drill down and explain one lead").click()
    settled(page)
    drill = page.locator('[data-testid="stExpander"]').filter(has_text="Which leads?")
    select(page, "Score band", "60–70", where=drill)
    press(page, points, "ArrowLeft", 5)  # with the drill-down open, every move redraws it
    press(page, points, "ArrowLeft", 5)
    data["engagement"][0]["points"] = start - 10
    draft = config_from_dict(data)
    with open_source(server["db"]) as source:
        features = extract_features(source, draft)
    band = next(b for b in calibration_view(draft, load_config(DEFAULT), features).draft.result.bands
                if b.band == "60–70")
    expect(drill.get_by_text(re.compile(rf"^{band.leads + band.immature:,} leads in band 60–70 \(draft\): "
                                        rf"{band.leads:,} mature, {band.conversions:,} converted"))).to_be_visible(
        timeout=WAIT)
    no_exception(page, server)
