"""The A/B test page in Chromium, opened from the menu as ops would: the plan, the arms, the
difference and the verdict of the demo's test (known true effect), no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..test_abtest_page import record_test
from .conftest import shot, start_app
from .helpers import WAIT, nav, no_exception, settled


@pytest.fixture(scope="module")
def abtest_server(tmp_path_factory, browser):
    from scoring.data.demo import generate

    base = tmp_path_factory.mktemp("e2e-abtest")
    db = base / "demo.duckdb"
    generate(db, leads=20_000, seed=7, test_effect=0.8)
    store = base / "store"
    record_test(store, db, base)
    log = base / "server.log"
    env = {"LEADCAL_DB": str(db), "LEADCAL_STORE": str(store), "LEADCAL_USER": "e2e", "LEADCAL_DATA": str(base)}
    with start_app(env, log) as (url, _):
        yield {"url": url, "db": db, "store": store, "log": log, "base": base}


def test_abtest_page_shows_the_demo_tests_verdict(browser, abtest_server):
    from .conftest import BrowserLog

    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.log = BrowserLog(page, abtest_server["url"])
    try:
        page.goto(abtest_server["url"])
        settled(page)
        nav(page, "A/B test")
        expect(page.get_by_role("heading", name="Champion vs challenger")).to_be_visible(timeout=WAIT)
        expect(page.get_by_text("Challenger better", exact=False).first).to_be_visible(timeout=WAIT)
        expect(page.get_by_text("challenger minus champion", exact=False)).to_be_visible()
        expect(page.get_by_text("Ann Lee (sales), Bo Mark (marketing)", exact=False)).to_be_visible()
        settled(page)
        shot(page, "page-abtest")
        no_exception(page, abtest_server)
    finally:
        context.close()
