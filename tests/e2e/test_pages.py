"""Every page as the meeting opens it (from the menu): no console error, no exception, nothing fetched from
outside; charts that read on a projector; the HTML report opened in Chromium."""

from __future__ import annotations

import re

import yaml
from playwright.sync_api import expect

from scoring.model.config import config_from_dict
from scoring.registry.store import ConfigStore, SignOff

from .conftest import ROOT, shot
from .helpers import WAIT, chart_axis_labels, chart_marks, dialog, metric, nav, no_exception, select, settled

DEFAULT = ROOT / "data" / "configs" / "default.yaml"


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    settled(page)


def _section(page, name: str) -> None:
    """Show a section under the Calibrate page's band chart (a segmented control, not tabs)."""
    page.locator(".st-key-calibrate_section").get_by_role("radio", name=name, exact=True).click()
    settled(page)


def test_every_page_and_section_without_console_errors(page, server):
    page.goto(server["url"])
    settled(page)
    # on the 3,000-lead database: the same pages, and the decay comparison's eleven refits take seconds
    select(page, "Database", "small.duckdb", where=_sidebar(page), exact=False)
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    assert page.get_by_text("Deploy", exact=True).count() == 0  # no developer toolbar for the meeting
    for section in ("Movers", "Fit × engagement", "Score distribution", "Changes vs approved", "Band table"):
        _section(page, section)
        if section == "Fit × engagement":  # the grid: categorical axes, every cell labelled
            grid = page.locator(".st-key-grid_chart .js-plotly-plot")
            for label in ("engagement 1 (most)", "engagement 2", "engagement 3 (least)", "fit A (best)", "fit C"):
                expect(grid.get_by_text(label, exact=True)).to_be_visible(timeout=WAIT)
            expect(grid.get_by_text(re.compile(r"^A1: "))).to_be_visible()
            shot(page, "calibrate-grid")
    shot(page, "calibrate-page")
    for title, heading in (("Attributes", "Let the data speak"), ("Configs", "Approved configs"),
                           ("Drift", "Score drift"), ("Data quality", "Data quality"),
                           ("Import data", "Import your data"), ("Calibrate", "Calibrate the scoring model")):
        nav(page, title)
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT)
        settled(page)
        if title == "Attributes":
            for tab in ("Suggested points", "Thresholds", "Calibration", "Decay"):
                _tab(page, tab)
                if tab == "Suggested points":
                    shot(page, "attributes-suggested-points")
            # switching the decay comparison on keeps the Decay tab open
            page.get_by_text("Compare decay options").click()
            settled(page)
            expect(page.get_by_role("tab", name="Decay")).to_have_attribute("aria-selected", "true", timeout=WAIT)
            expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=240_000)  # eleven refits
            settled(page)
            expect(page.get_by_role("tab", name="Decay")).to_have_attribute("aria-selected", "true")
            _tab(page, "Attributes")
        shot(page, f"page-{title.lower().replace(' ', '-')}")
        no_exception(page, server)


def test_band_chart_with_other_cut_points_than_the_approved_model(page, server):
    store = ConfigStore(server["store"])
    if "cuts" not in store.models():
        data = yaml.safe_load(DEFAULT.read_text())
        data["name"] = "cuts"
        data["bands"] = [25.0, 50.0, 75.0]
        store.save("cuts", config_from_dict(data))
        store.approve("cuts", 1, [SignOff("Sam", "sales"), SignOff("Mia", "marketing")], "coarse bands")
    page.goto(server["url"])
    settled(page)
    select(page, "Model", "cuts", where=_sidebar(page))
    field = page.get_by_role("textbox", name="Band cut points")
    page.get_by_text("Decay, caps, bands and evaluation").click()
    field.fill("20, 40, 60, 80")
    field.press("Enter")
    settled(page)
    steps = [m for m in chart_marks(page, "band_chart")
             if m.get("series") == "approved (cuts@1): conversion over its own bands" and "x1" in m]
    assert steps, chart_marks(page, "band_chart")
    assert chart_axis_labels(page, "band_chart", "score band") == ["0–20", "20–40", "40–60", "60–80", "80–100"]
    # the approved model's steps cover its own score ranges on the draft's axis: 25 is a quarter into 20-40
    assert sorted((float(m["x0"]), float(m["x1"])) for m in steps)[:2] == [(-0.5, 0.75), (0.75, 2.0)]
    # whole-number lead ticks on the right axis, percent ticks on the left
    ticks = chart_axis_labels(page, "band_chart", "mature leads")
    assert ticks and all(re.fullmatch(r"[0-9,]+", t) for t in ticks), ticks
    rates = chart_axis_labels(page, "band_chart", "conversion rate")
    assert rates and all(re.fullmatch(r"[0-9]+%", t) for t in rates), rates
    shot(page, "calibrate-other-cuts")
    no_exception(page, server)


def test_html_report_in_chromium(page, server, browser, tmp_path):
    store = ConfigStore(server["store"])
    if "report" not in store.models():
        data = yaml.safe_load(DEFAULT.read_text())
        data["name"] = "report"
        store.save("report", config_from_dict(data))
    page.goto(server["url"])
    settled(page)
    select(page, "Model", "report", where=_sidebar(page))
    nav(page, "Configs")
    if store.approval("report", 1) is None:
        select(page, "Version to approve", "report@1")
        page.get_by_label("Signed off for sales by").fill("Dana Whitfield")
        page.get_by_label("Signed off for marketing by").fill("Sam Okafor")
        page.get_by_label("Rationale").fill("Demo requests convert at 3x the base rate")
        page.get_by_role("button", name="Approve report@1...").click()
        dialog(page).get_by_role("button", name="Approve report@1").click()
        expect(page.get_by_text("champion is now report@1")).to_be_visible(timeout=WAIT)
        settled(page)
    select(page, "Version", "report@1")
    with page.expect_download(timeout=WAIT) as info:
        page.get_by_role("button", name="HTML report").click()
    out = tmp_path / "report.html"
    info.value.save_as(out)
    no_exception(page, server)

    report = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors, outside = [], []
    report.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    report.on("pageerror", lambda e: errors.append(str(e)))
    report.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:", "blob:"))
              else None)
    report.goto(out.as_uri())
    report.wait_for_timeout(2000)
    assert errors == [] and outside == [], (errors, outside)
    approval = report.locator("#approval")
    rows = approval.locator("#signoffs tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Dana Whitfield")
    expect(rows.nth(0)).to_contain_text("sales")
    expect(approval.locator("#rationale")).to_have_text("Demo requests convert at 3x the base rate")
    text = approval.inner_text()
    assert "{" not in text and "calibration" not in text and "root" not in text, text
    fingerprint = report.locator("#data-fingerprint")
    assert "\n" not in fingerprint.inner_text() and "20,000 leads scored" in fingerprint.inner_text()
    legend = report.locator("#band-chart .legend").text_content()
    assert "approved: conversion" in legend and "draft" not in legend, legend
    # the rate axis labels sit inside the chart (not clipped at the left edge)
    chart_box = report.locator("#band-chart").bounding_box()
    label_boxes = [t.bounding_box() for t in report.locator("#band-chart .ytick text").all()]
    assert label_boxes and all(b["x"] >= chart_box["x"] for b in label_boxes)
    title = report.locator("#band-chart .g-ytitle").bounding_box()
    assert title and title["x"] >= chart_box["x"]
    report.screenshot(path=str(ROOT / "tests" / "artifacts" / "report.png"), full_page=True)
    report.context.close()


def test_first_start_shows_what_it_is_doing(browser, server, tmp_path):
    """A fresh install compiles the scoring loops (about 10 s): the page says so while it waits."""
    from .conftest import start_app

    env = {"LEADCAL_DB": str(server["small"]), "LEADCAL_STORE": str(tmp_path / "store"),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}  # an empty compile cache, as after installing
    with start_app(env, tmp_path / "server.log") as (url, _):
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(url)
        waiting = page.get_by_text(re.compile("preparing leadcal's compiled scoring loops"))
        expect(waiting).to_be_visible(timeout=WAIT)
        expect(page.get_by_text(re.compile(r"\(\d+(\.\d+)?\s*s(econds)?\)|\d+s"))).to_be_visible(timeout=WAIT)
        page.screenshot(path=str(ROOT / "tests" / "artifacts" / "first-start.png"))
        expect(metric(page, "AUC")).to_be_visible(timeout=120_000)
        expect(waiting).to_have_count(0)
        page.context.close()
