"""Shared fixtures: tiny DuckDB files built by hand, so every number is checkable."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "data" / "configs" / "default.yaml"
T0 = dt.datetime(2024, 1, 1)
DAY = dt.timedelta(days=1)


def make_db(path: Path, leads: list[tuple], events: list[tuple] = (), outcomes: list[tuple] = ()) -> Path:
    """Write a leads/events/outcomes database.

    leads: (lead_id, created_at, seniority, company_size, email_domain_type)
    events: (lead_id, event_type, occurred_at); outcomes: (lead_id, converted_at, deal_value)
    """
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP, seniority VARCHAR, "
        "company_size INTEGER, email_domain_type VARCHAR)"
    )
    con.execute("CREATE TABLE events (lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP)")
    con.execute("CREATE TABLE outcomes (lead_id BIGINT, converted_at TIMESTAMP, deal_value DOUBLE)")
    if leads:
        con.executemany("INSERT INTO leads VALUES (?, ?, ?, ?, ?)", list(leads))
    if events:
        con.executemany("INSERT INTO events VALUES (?, ?, ?)", list(events))
    if outcomes:
        con.executemany("INSERT INTO outcomes VALUES (?, ?, ?)", list(outcomes))
    con.close()
    return path


def file_digest(path: Path) -> str:
    """SHA-256 of a file, to prove it was not written to."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


SMALL_CONFIG = """
name: small
source:
  events: {}
  outcome: {table: outcomes, deal_value: deal_value}
evaluation: {scoring_point_days: 7, outcome_window_days: 30}
fit:
  - {type: categorical, column: seniority, points: {VP: 10, Student: -5}, other: 1, missing: 2}
  - type: numeric
    column: company_size
    bins: [{max: 100, points: 0}, {min: 100, max: 1000, points: 5}, {min: 5000, points: 9}]
    other: 3
    missing: -1
engagement:
  - {event: demo_request, points: 20, cap: 30}
  - {event: [email_open, EMAIL_CLICK], points: 1}
thresholds: {mql: 10, sql: 30}
bands: [10, 20, 30]
"""


@pytest.fixture
def small_config_text() -> str:
    return SMALL_CONFIG


@pytest.fixture
def small_db(tmp_path):
    # data end is lead 6's creation (2024-06-01): leads created before 2024-04-25 are mature
    # (scoring point 7 days + window 30 days <= 2024-06-01).
    leads = [
        (1, T0, "VP", 500, "business"),            # fit 10 + 5
        (2, T0 + DAY, "Student", 10, "free"),      # fit -5 + 0
        (3, T0 + 2 * DAY, "Select", None, "x"),    # 'Select' means missing: 2, size missing: -1
        (4, T0 + 3 * DAY, " vp ", 2000, "x"),      # case/space-insensitive VP: 10; 2000 in no bin: other 3
        (5, T0 + 4 * DAY, "Manager", 5000, "x"),   # other 1; 5000 in [5000, inf): 9
        (6, dt.datetime(2024, 6, 1), None, 99, "x"),  # missing 2; 99 < 100: 0; immature
    ]
    events = [
        (1, "demo_request", T0 + 6 * DAY),                 # counts (before day 7)
        (1, "demo_request", T0 - 10 * DAY),                # counts (before creation is fine)
        (1, "demo_request", T0 + 7 * DAY),                 # exactly at the scoring point: not counted
        (1, "Email_Open", T0 + 1 * DAY),                   # type matched case-insensitively
        (2, "email_click", T0 + 2 * DAY),
        (2, "email_open", T0 + 3 * DAY),
        (2, "email_open", T0 + 30 * DAY),                  # after the scoring point: not counted
        (4, "demo_request", T0 + 4 * DAY),
        (4, "demo_request", T0 + 5 * DAY),
        (4, "email_open", T0 + 6 * DAY),                   # after lead 4 converted (day 5.5): not counted
        (99, "demo_request", T0),                          # unknown lead
    ]
    outcomes = [
        (1, T0 + 20 * DAY, 1000.0),   # within 7 + 30 days: converted
        (2, T0 + 60 * DAY, 50.0),     # after the window: not converted
        (4, T0 + 3 * DAY + dt.timedelta(hours=60), 10.0),  # day 5.5 after its creation (T0+3)
    ]
    return make_db(tmp_path / "small.duckdb", leads, events, outcomes)


@pytest.fixture(autouse=True, scope="session")
def _feature_cache_in_tmp(tmp_path_factory):
    """The app's on-disk feature cache goes to a temporary folder, never the user's ~/.cache."""
    import os

    old = os.environ.get("LEADCAL_CACHE")
    os.environ["LEADCAL_CACHE"] = str(tmp_path_factory.mktemp("feature-cache"))
    yield
    if old is None:
        os.environ.pop("LEADCAL_CACHE", None)
    else:
        os.environ["LEADCAL_CACHE"] = old


@pytest.fixture(autouse=True)
def _own_store(monkeypatch, tmp_path_factory):
    """Every test gets its own config store unless it sets one: a command that saves a model by default
    (`leadcal import`) must never write into the repository's data/configs."""
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path_factory.mktemp("store")))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which `.ci/run` uses (`-n 2`)
def pytest_xdist_make_scheduler(config, log):
    """The browser tests run one after another on one worker, the warehouse engines' on one (each starts its
    own Chromium and app server, or JVM), and every other test goes to whichever worker is free: two browser
    tests at once on two cores would each wait on the other's app. (xdist's own `--dist loadgroup` does not
    group under pytest 9.2, whose node ids it can no longer rename.)"""
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerPerApp(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            parts = nodeid.split("/", 2)
            return parts[1] if len(parts) == 3 and parts[0] == "tests" and parts[1] in ("e2e", "engines") else nodeid

    return OneWorkerPerApp(config, log)


def _store_files() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in (ROOT / "data" / "configs").rglob("*")}


def pytest_sessionstart(session):
    session.config.stash[_STORE_BEFORE] = _store_files()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a test wrote into the repository's own store (it used to, unnoticed)."""
    before = session.config.stash.get(_STORE_BEFORE, None)
    if before is not None and (added := _store_files() - before):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nerror: tests wrote into the repository's data/configs: {sorted(added)[:5]}")


_STORE_BEFORE = pytest.StashKey[set]()
