"""A new database's first load in Chromium: the Calibrate page is drawn before the data-quality
checks, the checks wait while the meeting moves sliders and run once it pauses, and the
findings then appear in the sidebar without a click."""

from __future__ import annotations

import time

import duckdb
from playwright.sync_api import expect

from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import load_config
from scoring.model.features import decay_free_spec, feature_spec
from ui.data import IDLE_BEFORE_LOADING

from .conftest import ROOT, shot, start_app
from .helpers import WAIT, metric, thumbs

DEFAULT = ROOT / "data" / "configs" / "default.yaml"


def _entries(cache) -> list:
    return [p for p in cache.glob("*") if not p.name.startswith(".")] if cache.exists() else []


def test_findings_follow_the_first_view_once_the_sliders_rest(browser, tmp_path):
    db = tmp_path / "messy.duckdb"
    generate(db, leads=3000, seed=5)
    with duckdb.connect(str(db)) as con:  # duplicate leads and events of unknown leads, as CRM exports have
        con.execute("INSERT INTO leads SELECT * FROM leads ORDER BY lead_id LIMIT 4")
        con.execute("INSERT INTO events SELECT lead_id + 10000000, event_type, occurred_at FROM events LIMIT 7")
    with open_source(db) as source:
        expected = extract_features(source, decay_free_spec(feature_spec(load_config(DEFAULT)))).quality.messages()
    assert len(expected) == 2
    cache = tmp_path / "cache"
    env = {"LEADCAL_DB": str(db), "LEADCAL_STORE": str(tmp_path / "store"), "LEADCAL_CACHE": str(cache),
           "LEADCAL_USER": "e2e"}
    log = tmp_path / "server.log"
    with start_app(env, log) as (url, _):
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(url)
        expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
        sidebar = page.locator('[data-testid="stSidebar"]')
        findings = sidebar.get_by_text(f"{len(expected)} data-quality finding(s)")
        # the meeting moves a slider about once a second: the checks and the cache entry wait
        mql = thumbs(page, "MQL and SQL thresholds").first
        moving_until = time.time() + 3 * IDLE_BEFORE_LOADING
        while time.time() < moving_until:
            mql.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(1000)
            assert _entries(cache) == [], "the held-back work started while sliders moved"
        assert findings.count() == 0
        expect(sidebar.get_by_text("Checking data quality", exact=False)).to_be_visible()
        shot(page, "first-load-checking")
        # then nobody touches anything: the findings appear on their own, and the cache entry follows
        expect(findings).to_be_visible(timeout=WAIT)
        findings.click()
        for message in expected:
            expect(sidebar.get_by_text(message, exact=False)).to_be_visible()
        shot(page, "first-load-findings")
        deadline = time.time() + 60
        while not _entries(cache):
            assert time.time() < deadline, "no cache entry after the checks"
            time.sleep(0.2)
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        context.close()
