"""Shared fixtures: tiny DuckDB files built by hand, so every number is checkable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "data" / "configs" / "default.yaml"


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
