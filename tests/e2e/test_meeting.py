"""The calibration meeting's journeys in Chromium: what the screen shows is what is scored, saved and approved."""

from __future__ import annotations

import re

import yaml
from playwright.sync_api import expect

from scoring.model.config import config_from_dict, load_config
from scoring.registry.store import ConfigStore, SignOff

from .conftest import ROOT, shot
from .helpers import (
    WAIT,
    dialog,
    expect_kpis,
    kpis_of,
    metric,
    nav,
    no_exception,
    press,
    select,
    settled,
    text_of_sidebar,
    thumbs,
    value_of,
)

DEFAULT = ROOT / "data" / "configs" / "default.yaml"


def _config(**changes):
    data = yaml.safe_load(DEFAULT.read_text())
    for path, value in changes.items():
        target = data
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value
    return config_from_dict(data)


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def test_approve_then_click_again_approves_nothing_else(page, server):
    store = ConfigStore(server["store"])
    store.save("meet", load_config(DEFAULT), note="as shipped")
    store.save("meet", _config(**{"thresholds.mql": 35.0}), note="lower MQL", parent="meet@1")
    page.goto(server["url"])
    settled(page)
    select(page, "Model", "meet", where=_sidebar(page))
    nav(page, "Configs")
    select(page, "Version to approve", "meet@2")
    expect(page.get_by_role("heading", name="Approve meet@2")).to_be_visible(timeout=WAIT)
    page.get_by_label("Signed off for sales by").fill("Sam Sales")
    page.get_by_label("Signed off for marketing by").fill("Mia Marketing")
    page.get_by_label("Rationale").fill("MQL 35 fits sales capacity")
    page.get_by_role("button", name="Approve meet@2...").click()
    box = dialog(page)
    expect(box).to_contain_text("Approve meet@2?", timeout=WAIT)
    expect(box).to_contain_text("shipped default")  # the champion it is compared with
    expect(box).to_contain_text("MQL 35 fits sales capacity")
    assert store.approval("meet", 2) is None  # nothing recorded before the confirmation
    shot(page, "configs-approve-dialog")
    box.get_by_role("button", name="Approve meet@2").click()
    expect(page.get_by_text("champion is now meet@2")).to_be_visible(timeout=WAIT)
    settled(page)
    # at once: the sidebar shows the new champion, the form is gone and the picker is empty
    expect(_sidebar(page)).to_contain_text("Approved model: meet@2", timeout=WAIT)
    expect(page.get_by_role("button", name=re.compile(r"^Approve meet"))).to_have_count(0)
    expect(page.get_by_role("combobox", name="Version to approve")).to_have_value("")
    # "click again": the only way on is to pick a version, and meet@1 was never approved
    select(page, "Version to approve", "meet@1")
    expect(page.get_by_label("Signed off for sales by")).to_have_value("")
    expect(page.get_by_label("Rationale")).to_have_value("")
    page.get_by_role("button", name="Approve meet@1...").click()
    expect(page.get_by_text(re.compile("missing sign-off from: sales, marketing"))).to_be_visible(timeout=WAIT)
    assert store.approval("meet", 1) is None
    record = store.approval("meet", 2)
    assert record["signoffs"] == [{"name": "Sam Sales", "role": "sales"}, {"name": "Mia Marketing", "role": "marketing"}]
    assert record["approved_by"] == "Sam Sales, Mia Marketing"
    shot(page, "configs-after-approval")
    no_exception(page, server)


def test_switch_model_and_database_with_a_changed_draft(page, server):
    store = ConfigStore(server["store"])
    other = _config(**{"name": "other", "thresholds.mql": 45.0, "thresholds.sql": 65.0,
                       "engagement.0.points": 0.0, "engagement.0.cap": 0.5})
    if "other" not in store.models():
        store.save("other", other)
        store.approve("other", 1, [SignOff("Sam", "sales"), SignOff("Mia", "marketing")], "for the test")
    page.goto(server["url"])
    settled(page)
    press(page, thumbs(page, "MQL and SQL thresholds").first, "ArrowRight", 5)  # MQL 40 -> 45
    press(page, thumbs(page, "demo_request: points"), "ArrowRight", 5)         # 20 -> 25
    expect(page.get_by_text("unsaved changes").first).to_be_visible(timeout=WAIT)  # above the controls
    select(page, "Model", "other", where=_sidebar(page))
    box = dialog(page)
    expect(box).to_contain_text("switch to the model other", timeout=WAIT)
    shot(page, "switch-ask-first")
    box.get_by_role("button", name="Keep editing").click()
    settled(page)
    assert value_of(thumbs(page, "MQL and SQL thresholds").first) == 45
    assert value_of(thumbs(page, "demo_request: points")) == 25
    expect_kpis(page, kpis_of(server["db"], _config(**{"thresholds.mql": 45.0, "engagement.0.points": 25.0})))

    select(page, "Model", "other", where=_sidebar(page))
    dialog(page).get_by_role("button", name="Discard the changes and switch").click()
    settled(page)
    # every control shows the new model, and the numbers are the new model's
    mql, sql = thumbs(page, "MQL and SQL thresholds").all()
    assert (value_of(mql), value_of(sql)) == (45, 65)
    assert value_of(thumbs(page, "demo_request: points")) == 0
    expect_kpis(page, kpis_of(server["db"], other))
    expect(_sidebar(page)).to_contain_text("Approved model: other@1")

    # another database, picked in the sidebar: the draft is unchanged, so it switches at once
    select(page, "Database", "small.duckdb", where=_sidebar(page), exact=False)
    expect(_sidebar(page)).to_contain_text("3,000 leads", timeout=WAIT)
    expect_kpis(page, kpis_of(server["small"], other))
    # and it stays on every page
    for title in ("Drift", "Data quality", "Calibrate"):
        nav(page, title)
        expect(_sidebar(page)).to_contain_text("3,000 leads", timeout=WAIT)
        expect(_sidebar(page).get_by_role("combobox", name="Database", exact=True)).to_have_value("small.duckdb")
    expect_kpis(page, kpis_of(server["small"], other))
    no_exception(page, server)


def test_change_page_and_come_back(page, server):
    page.goto(server["url"])
    settled(page)
    press(page, thumbs(page, "MQL and SQL thresholds").first, "ArrowRight", 5)  # MQL 45
    press(page, thumbs(page, "trial_signup: points"), "ArrowLeft", 3)          # 15 -> 12
    page.get_by_text("Meeting settings", exact=True).click()
    page.get_by_label("Sales capacity (leads a month; 0 = not set)").fill("60")
    page.keyboard.press("Enter")
    settled(page)
    draft = _config(**{"thresholds.mql": 45.0, "engagement.1.points": 12.0})
    expect_kpis(page, kpis_of(server["db"], draft))
    for title in ("Configs", "Attributes", "Calibrate"):
        nav(page, title)
    assert value_of(thumbs(page, "MQL and SQL thresholds").first) == 45
    assert value_of(thumbs(page, "trial_signup: points")) == 12
    expect(page.get_by_label("Sales capacity (leads a month; 0 = not set)")).to_have_value("60")
    expect_kpis(page, kpis_of(server["db"], draft))
    expect(page.get_by_text("more than the sales capacity of 60")).to_be_visible(timeout=WAIT)
    no_exception(page, server)


def test_import_then_calibrate_after_loading_a_version(page, server, tmp_path):
    from tests.import_fixtures import write_crm

    store = ConfigStore(server["store"])
    if "loaded" not in store.models():
        store.save("loaded", _config(**{"name": "loaded", "thresholds.mql": 30.0}), note="to load")
    page.goto(server["url"])
    settled(page)
    select(page, "Saved versions", "loaded@1")
    page.get_by_role("button", name="Load", exact=True).click()
    settled(page)
    assert value_of(thumbs(page, "MQL and SQL thresholds").first) == 30
    nav(page, "Import data")
    files = write_crm(tmp_path / "export")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(f) for f in files])
    settled(page)
    expect(page.get_by_role("heading", name="Column mapping")).to_be_visible(timeout=WAIT)
    target = server["base"] / "crm_import.duckdb"  # leadcal's data folder: imports are written there only
    page.get_by_role("textbox", name="Name of the database to write").fill("crm_import")
    page.keyboard.press("Enter")
    settled(page)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text(re.compile("Imported into"))).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name=re.compile(r"^Save starter config to the store as model")).click()
    settled(page)
    page.get_by_role("button", name="Calibrate on this data").click()
    settled(page)
    # the imported data and its starter model, every control on it, and the way out always there
    expect(page.get_by_role("heading", name="Calibrate the scoring model")).to_be_visible(timeout=WAIT)
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    expect(page.locator("[data-testid=\"stExpander\"]").filter(has_text="Save, load, reset")).to_be_visible()
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    expect(_sidebar(page).get_by_role("combobox", name="Database", exact=True)).to_have_value("crm_import.duckdb")
    starter = store.load("crm_import")
    mql, sql = thumbs(page, "MQL and SQL thresholds").all()
    assert (value_of(mql), value_of(sql)) == (starter.thresholds.mql, starter.thresholds.sql)
    expect_kpis(page, kpis_of(target, starter))
    shot(page, "calibrate-after-import")
    no_exception(page, server)
