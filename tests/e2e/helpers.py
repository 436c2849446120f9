"""How a person drives the app in Chromium: navigation, sliders, selects, and what the app computed."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from scoring.analysis.calibrate import calibration_view
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import ScoringConfig

WAIT = 60_000


def settled(page) -> None:
    """Wait until the script run is over (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(500)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=WAIT)
    page.wait_for_timeout(300)


def no_exception(page, server) -> None:
    """No exception on the page, none in the server log, no console error, nothing fetched from outside."""
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception is shown on the page"
    log = server["log"].read_text()
    assert "Traceback" not in log, log[-3000:]
    assert page.log.app_errors() == [], page.log.errors
    assert page.log.outside == [], page.log.outside


def nav(page, title: str) -> None:
    """Open a page from the sidebar menu, as a person does."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    settled(page)


def metric(page, label: str):
    """A Calibrate KPI's value (``ui.kpi_row``), found by its label as a screen reader names it."""
    return page.get_by_role("group", name=label, exact=True).get_by_test_id("leadcal-kpi-value")


def thumbs(page, label: str):
    """The handles of a slider, found by its label."""
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")


def press(page, locator, key: str, times: int) -> None:
    locator.focus()
    for _ in range(times):
        page.keyboard.press(key)
    settled(page)


def value_of(locator) -> float:
    """A slider handle's value (handles are range inputs)."""
    return float(locator.input_value())


def select(page, label: str, option: str, where=None, exact: bool = True) -> None:
    """Pick an option of a select box found by its label."""
    scope = where if where is not None else page
    scope.get_by_role("combobox", name=label, exact=True).click()
    page.keyboard.type(option)  # long lists show only the options in view: type to find it
    page.get_by_role("option", name=option if exact else re.compile(re.escape(option))).first.click()
    settled(page)


def kpis_of(db, config: ScoringConfig) -> dict:
    """What ``scoring`` computes for a config on a database: the numbers the page must show."""
    with open_source(db) as source:
        features = extract_features(source, config)
    return calibration_view(config, config, features).draft.kpis


def expect_kpis(page, kpis: dict) -> None:
    """The KPIs on screen are ``kpis`` ('-' where there is no figure)."""
    shown = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    rate = kpis.mql.rate
    expect(metric(page, "AUC")).to_have_text(shown(kpis.auc, ".3f"), timeout=WAIT)
    expect(metric(page, "MQLs per month")).to_have_text(shown(kpis.mql_per_month, ",.0f"), timeout=WAIT)
    expect(metric(page, "MQL conversion")).to_have_text("-" if rate is None else f"{100 * rate:.1f}%", timeout=WAIT)


def dialog(page):
    return page.get_by_role("dialog")


def text_of_sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def chart_marks(page, key: str) -> list[dict[str, str]]:
    """The marks of the band chart in the container ``key``, each as its accessible description (the fields
    it shows: ``{"series": ..., "band": ..., ...}``), with a step's span on the band axis (``x0``, ``x1``)."""
    marks = page.evaluate(f"() => Array.from(document.querySelectorAll('.st-key-{key} [data-lc-mark]'))"
                          ".map(e => [e.getAttribute('aria-label') || '', e.dataset.x0 ?? null, e.dataset.x1 ?? null])")
    out = []
    for label, x0, x1 in marks:
        fields = dict(part.split(": ", 1) for part in label.split("; ") if ": " in part)
        if x0 is not None:
            fields.update(x0=x0, x1=x1)
        out.append(fields)
    return out


def chart_axis_labels(page, key: str, title: str) -> list[str]:
    """The tick labels of the axis titled ``title`` of the band chart in the container ``key``."""
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('.st-key-{key} .lc-tick[data-axis="{title}"]'))
        .map(t => t.textContent)""")


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text))
