"""SQL export: the exported query gives the engine's scores, in every dialect it parses.

The DuckDB SQL is run on a read-only connection and compared lead by lead with
``scoring.model.engine.score`` on ``scoring.data.extract.extract_features``; the other dialects
cannot be run here, so they are parsed back with sqlglot and checked for the mapped
tables and every event type (a transpile that dropped logic would lose them).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest
import sqlglot
import yaml
from sqlglot import exp

from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.export.sql import DIALECTS, export_sql
from scoring.model.config import config_from_dict, load_config, normalise_value
from scoring.model.engine import TIERS, score

from .conftest import DAY, DEFAULT_CONFIG, T0, file_digest

TOL = 1e-9

EVERY_KIND = """
name: every-kind
source:
  leads: {table: leads, id: lead_id, created_at: created_at, segment: segment}
  events: {table: events, lead_id: lead_id, type: event_type, time: occurred_at}
  outcome: {table: outcomes, lead_id: lead_id, converted_at: converted_at, deal_value: deal_value}
evaluation: {scoring_point_days: 6.5, outcome_window_days: 60}
decay: {kind: exponential, half_life_days: 21.5}
fit:
  - type: categorical
    column: seniority
    points: {C-level: 15.5, VP: 12, Director: 10, manager: 5, Student: -10}
    other: 1.25
    missing: 3
  - {type: categorical, column: email_domain_type, points: {business: 5, FREE: -5.5}}
  - type: numeric
    column: company_size
    bins:
      - {max: 50, points: -2}
      - {min: 50, max: 200, points: 4.5}
      - {min: 500, max: 2000, points: 8}   # 200..500 falls in no bin: 'other'
      - {min: 5000, points: 12}
    other: 6
    missing: -3
engagement:
  - {event: demo_request, points: 20, cap: 30}                         # model decay
  - {event: [email_open, EMAIL_CLICK], points: 0.7, name: email,
     decay: {kind: linear, lifespan_days: 45}}
  - {event: pricing_page_view, points: 5, cap: 12.5, decay: {kind: window, days: 14}}
  - {event: webinar_attended, points: 4, decay: {kind: none}}
  - {event: careers_page_view, points: -10, cap: 20}                   # negative, capped
  - {event: unsubscribe, points: -15, cap: 15, decay: {kind: none}}
  - {column: company_size, points: 0.001, cap: 3}                      # activity column
caps:
  fit: {min: -5}                  # one side only
  engagement: {max: 50}           # one side only
  total: {min: 0, max: 100}
thresholds: {mql: 35, sql: 55}
bands: [20, 40, 60, 80]
segments:
  - name: enterprise              # values filter; own engagement and thresholds
    filter: {column: segment, values: [' ENTERPRISE', no such segment]}
    engagement:
      - {event: demo_request, points: 30, cap: 40, decay: {kind: window, days: 7}}
      - {event: trial_signup, points: 10}
      - {event: careers_page_view, points: -5}
    thresholds: {mql: 45, sql: 70}
  - name: big                     # range filter; own fit
    filter: {column: company_size, min: 150, max: 1000}
    fit:
      - {type: categorical, column: industry, points: {software: 10, ' Financial Services': 6},
         other: 2, missing: -1}
"""

INJECTION = "x'); DROP TABLE leads; --"


# --------------------------------------------------------------------------- helpers


def _compare(db, config, sql: str | None = None):
    """Run the DuckDB export (or ``sql``) and the engine on ``db``; assert they agree.

    Returns the max absolute difference per score column and the engine's scores.
    """
    sql = sql or export_sql(config, "duckdb")
    with open_source(db) as source:  # read-only connection
        features = extract_features(source, config)
        got = source.con.sql(sql).fetchnumpy()
    expected = score(config, features)

    ids = np.asarray(got["lead_id"])
    assert len(ids) == len(set(ids.tolist())), "one row per lead"
    assert sorted(ids.tolist()) == sorted(features.lead_id.tolist()), "same leads as the engine"
    mine, theirs = np.argsort(ids, kind="stable"), np.argsort(features.lead_id, kind="stable")

    scored_at = np.asarray(got["scored_at"]).astype("datetime64[us]")[mine]
    np.testing.assert_array_equal(scored_at, features.scoring_at[theirs])
    diffs = {}
    for column, engine in (("fit_score", expected.fit), ("engagement_score", expected.engagement),
                           ("score", expected.total)):
        values = np.asarray(got[column], dtype=np.float64)[mine]
        diffs[column] = float(np.max(np.abs(values - engine[theirs]))) if len(values) else 0.0
        assert diffs[column] <= TOL, (column, diffs[column])

    thresholds = [config.thresholds.mql, config.thresholds.sql] + [
        t for s in config.segments if s.thresholds for t in (s.thresholds.mql, s.thresholds.sql)
    ]
    total = expected.total[theirs]
    clear = np.all(np.abs(total[:, None] - np.asarray(thresholds)[None, :]) > TOL, axis=1)
    tiers = np.asarray(got["tier"], dtype=object)[mine]
    engine_tiers = np.asarray(TIERS, dtype=object)[expected.tier[theirs]]
    assert (tiers[clear] == engine_tiers[clear]).all()
    assert set(tiers.tolist()) <= set(TIERS)
    return diffs, expected


def _event_types(config) -> set[str]:
    return {
        normalise_value(e)
        for _, rules in config.rule_sets()
        for rule in rules["engagement"]
        for e in rule.events
    }


def _mapped_tables(config) -> set[str]:
    src = config.source
    names = {src.leads.table}
    if src.events is not None:
        names.add(src.events.table)
    if src.outcome.table is not None:
        names.add(src.outcome.table)
    return names


def _messy_db(path, leads, events=()):
    """Leads with the outcome on the leads table (converted_at), plus events."""
    con = duckdb.connect(str(path))
    con.execute(
        'CREATE TABLE "lead list" ("Lead ID" BIGINT, "Created At" TIMESTAMP, seniority VARCHAR, '
        "company_size INTEGER, segment VARCHAR, converted_at TIMESTAMP, visits DOUBLE)"
    )
    con.execute("CREATE TABLE events (lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP)")
    con.executemany('INSERT INTO "lead list" VALUES (?, ?, ?, ?, ?, ?, ?)', list(leads))
    if events:
        con.executemany("INSERT INTO events VALUES (?, ?, ?)", list(events))
    con.close()
    return path


FUTURE = dt.datetime(2999, 1, 1)

MESSY_LEADS = [
    (1, T0, "VP", 500, "Enterprise", T0 + 20 * DAY, 3.0),
    (1, T0 + DAY, "Student", 10, "SMB", None, 0.0),             # later duplicate: ignored
    (2, None, "VP", 1, "SMB", None, 1.0),                       # NULL created_at loses to the dated row
    (2, T0 + 5 * DAY, "Manager", 4500, "smb", None, None),
    (None, T0, "VP", 1, "SMB", None, 1.0),                      # no id: left out
    (9, None, "VP", 1, "SMB", None, 1.0),                       # no creation time: left out
    (3, T0 + 2 * DAY, "Select", None, " enterprise ", None, None),  # missing seniority and size
    (4, T0 + 3 * DAY, "", 2000, None, T0 - DAY, 1.5),           # '' missing; converted before creation
    (5, T0 + 4 * DAY, " vp ", 5000, "Select", FUTURE, None),    # future conversion: unknown
    (6, T0 + 300 * DAY, "n/a", 99, "x", None, 2.0),
    (7, T0 + 10 * DAY, "Director", 150, "Enterprise", T0 + 12 * DAY, 0.0),
    (8, T0 + 11 * DAY, "CEO", 700, "Mid-Market", None, -4.0),
]
MESSY_EVENTS = [
    (1, "demo_request", T0 + 6 * DAY),
    (1, "demo_request", T0 - 10 * DAY),          # before creation: counts
    (1, "demo_request", T0 + 7 * DAY),           # exactly at a 7-day scoring point: does not count
    (1, " Email_Open ", T0 + DAY),               # case and spaces ignored
    (2, "email_click", T0 + 6 * DAY),
    (2, None, T0 + 6 * DAY),                     # no type
    (2, "demo_request", None),                   # no time
    (3, "DEMO_REQUEST", T0 + 3 * DAY),
    (4, "visit", T0 + 4 * DAY),                  # not in any rule
    (5, "demo_request", FUTURE),                 # after the data's end
    (7, "demo_request", T0 + 11 * DAY),          # before lead 7's conversion (day 12)
    (7, "demo_request", T0 + 13 * DAY),          # after it: does not count
    (99, "demo_request", T0),                    # unknown lead
    (6, "pricing_page_view", T0 + 299 * DAY),
    (6, "pricing_page_view", T0 + 280 * DAY),    # outside a 14-day window
    (8, "O'Brien's page", T0 + 12 * DAY),        # a quote in an event type
    (8, "email_open", T0 + 15 * DAY),
]


def _messy_config(scoring_point_days: float):
    return config_from_dict({
        "name": "messy",
        "source": {
            "leads": {"table": "lead list", "id": "Lead ID", "created_at": "Created At"},
            "events": {},
            "outcome": {"converted_at": "converted_at"},          # on the leads table
            "missing_values": ["", "Select", "N/A", "n/a", "none"],
        },
        "evaluation": {"scoring_point_days": scoring_point_days, "outcome_window_days": 30},
        "decay": {"kind": "exponential", "half_life_days": 3},
        "fit": [
            {"type": "categorical", "column": "seniority",
             "points": {"VP": 10, "Student": -5, "director": 4, " CEO": 7}, "other": 1, "missing": 2},
            {"type": "numeric", "column": "company_size",
             "bins": [{"max": 100, "points": 0}, {"min": 100, "max": 1000, "points": 5},
                      {"min": 5000, "points": 9}], "other": 3, "missing": -1},
        ],
        "engagement": [
            {"event": "demo_request", "points": 20, "cap": 30},
            {"event": ["email_open", "EMAIL_CLICK"], "points": 1.5,
             "decay": {"kind": "linear", "lifespan_days": 10}},
            {"event": "pricing_page_view", "points": 4, "decay": {"kind": "window", "days": 14}},
            {"event": "o'brien's page", "points": 3, "decay": {"kind": "none"}},
            {"column": "visits", "points": 2, "cap": 5},
        ],
        "caps": {"fit": {"max": 12}, "engagement": {"min": -3}, "total": {"min": 0}},
        "thresholds": {"mql": 10, "sql": 30},
        "bands": [10, 20, 30],
        "segments": [
            {"name": "ent", "filter": {"column": "segment", "values": ["Enterprise", "select"]},
             "thresholds": {"mql": 20, "sql": 40}},
            {"name": "big", "filter": {"column": "company_size", "min": 4000},
             "fit": [{"type": "numeric", "column": "visits", "bins": [{"min": 0, "points": 6}],
                      "missing": -2, "other": -6}],
             "engagement": [{"event": "demo_request", "points": 50}]},
        ],
    })


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "demo.duckdb"
    generate(path, leads=20_000)
    return path


@pytest.fixture(scope="module")
def messy_db(tmp_path_factory):
    return _messy_db(tmp_path_factory.mktemp("messy") / "messy.duckdb", MESSY_LEADS, MESSY_EVENTS)


# --------------------------------------------------------------------------- DuckDB = engine


def test_default_config_matches_engine_on_demo(demo_db):
    before = file_digest(demo_db)
    diffs, _ = _compare(demo_db, load_config(DEFAULT_CONFIG))
    assert max(diffs.values()) <= TOL
    assert file_digest(demo_db) == before  # read-only: the data is untouched


def test_every_rule_kind_matches_engine_on_demo(demo_db):
    config = config_from_dict(yaml.safe_load(EVERY_KIND))
    diffs, scores = _compare(demo_db, config)
    assert max(diffs.values()) <= TOL
    # not a vacuous comparison: both segments and the model's rules are used, every tier
    # occurs, and engagement goes negative somewhere
    assert set(scores.segment.tolist()) == {-1, 0, 1}
    assert set(scores.tier.tolist()) == {0, 1, 2}
    assert scores.engagement.min() < 0


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
def test_other_dialects_read_back_as_the_same_query(demo_db, dialect):
    """Each dialect's SQL, read by sqlglot and written back as DuckDB, still scores the same.

    A proxy for running it in that warehouse: a transpile that dropped or changed logic
    (a lost CASE, a date difference read as days) would change scores.
    """
    config = config_from_dict(yaml.safe_load(EVERY_KIND))
    back = sqlglot.transpile(export_sql(config, dialect), read=dialect, write="duckdb")[0]
    diffs, _ = _compare(demo_db, config, sql=back)
    assert max(diffs.values()) <= TOL


@pytest.mark.parametrize("scoring_point_days", [7, 7.0000001])  # whole seconds / microseconds
def test_messy_data_matches_engine(messy_db, scoring_point_days):
    config = _messy_config(scoring_point_days)
    _compare(messy_db, config)
    with open_source(messy_db) as source:
        rows = source.con.sql(f"SELECT lead_id, fit_score, engagement_score, tier FROM ({export_sql(config)})"
                              " ORDER BY lead_id").fetchall()
    by_id = {r[0]: r[1:] for r in rows}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6, 7, 8]  # no NULL ids, no undated leads
    assert by_id[3][0] == 2 + -1                          # 'Select' and NULL size are missing
    # lead 8: ' CEO' 7 + size 700 -> 5 = 12 (the fit cap); O'Brien's page 3 + one email open
    # 3 days before the scoring point (linear over 10 days: 0.7 * 1.5) + visits -4 * 2 capped at -5
    fit, engagement, tier = by_id[8]
    assert fit == 12 and engagement == pytest.approx(3 + 0.7 * 1.5 - 5, abs=1e-5) and tier == "mql"


def test_without_events_mapped(messy_db):
    config = config_from_dict({
        "source": {"leads": {"table": "lead list", "id": "Lead ID", "created_at": "Created At"},
                   "outcome": {"converted_at": "converted_at"}},
        "fit": [{"type": "categorical", "column": "seniority", "points": {"vp": 10}}],
        "engagement": [{"column": "visits", "points": -1, "cap": 2}],
        "thresholds": {"mql": 5, "sql": 10}, "bands": [5],
    })
    sql = export_sql(config)
    assert "events" not in sqlglot.parse_one(sql, read="duckdb").sql(comments=False)
    _compare(messy_db, config)


def test_values_that_look_like_sql_are_only_values(tmp_path):
    leads = [
        (1, T0, INJECTION, 10, "SMB", None, None),
        (2, T0 + DAY, "VP", 10, INJECTION, None, None),
        (3, T0 + 2 * DAY, "x", 10, "SMB", None, None),
        (4, T0 + 3 * DAY, "it's missing", 10, "SMB", None, None),
    ]
    events = [(3, INJECTION, T0 + 2 * DAY + DAY)]
    db = _messy_db(tmp_path / "inj.duckdb", leads, events)
    config = config_from_dict({
        "name": "injection",
        "source": {
            "leads": {"table": "lead list", "id": "Lead ID", "created_at": "Created At"},
            "events": {},
            "outcome": {"converted_at": "converted_at"},
            "missing_values": ["it's missing", "\\'; --"],
        },
        "fit": [{"type": "categorical", "column": "seniority", "points": {INJECTION: 50}, "missing": -7}],
        "engagement": [{"event": INJECTION, "points": 11}],
        "segments": [{"name": "odd", "filter": {"column": "segment", "values": [INJECTION]},
                      "thresholds": {"mql": -100, "sql": -50}}],
        "thresholds": {"mql": 10, "sql": 30},
        "bands": [10],
    })
    _compare(db, config)
    with open_source(db) as source:
        rows = source.con.sql(
            f"SELECT lead_id, fit_score, engagement_score, tier FROM ({export_sql(config)})"
        ).fetchall()
        assert source.con.sql('SELECT count(*) FROM "lead list"').fetchall() == [(4,)]
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id[1] == (50.0, 0.0, "sql")         # the literal value gets its points
    assert by_id[2] == (0.0, 0.0, "sql")          # the literal segment value matches (sql at -50)
    assert by_id[3] == (0.0, 11.0, "mql")         # the literal event type counts
    assert by_id[4] == (-7.0, 0.0, "below_mql")   # a missing marker with a quote is missing


def test_unknown_dialect_is_an_error():
    config = load_config(DEFAULT_CONFIG)
    with pytest.raises(ValueError, match="duckdb, postgres, snowflake, bigquery, spark"):
        export_sql(config, "oracle")


# --------------------------------------------------------------------------- other dialects


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "duckdb"])
@pytest.mark.parametrize("which", ["default", "every-kind", "messy"])
def test_every_dialect_parses_and_keeps_tables_and_events(dialect, which):
    config = {
        "default": lambda: load_config(DEFAULT_CONFIG),
        "every-kind": lambda: config_from_dict(yaml.safe_load(EVERY_KIND)),
        "messy": lambda: _messy_config(7.0000001),
    }[which]()
    sql = export_sql(config, dialect)
    assert sql.startswith("-- leadcal scoring model")
    tree = sqlglot.parse_one(sql, read=dialect)
    tables = {t.name for t in tree.find_all(exp.Table)}
    assert _mapped_tables(config) <= tables
    strings = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    assert _event_types(config) <= strings
    assert {"below_mql", "mql", "sql"} <= strings
    body = tree.sql(dialect=dialect, comments=False)  # the text itself, not the header comment
    for table in _mapped_tables(config):
        assert table in body


@pytest.mark.parametrize("separate", [False, True])
def test_three_state_outcome_with_dates_matches_engine(tmp_path, separate):
    """A won / lost / open column and a conversion date together (on the leads table or in a deals table):
    the exported SQL cuts events at the conversion as the engine does, and scores the same."""
    import datetime as dt

    import duckdb

    from scoring.model.config import config_from_dict

    path = tmp_path / "states.duckdb"
    con = duckdb.connect(str(path))
    t0 = dt.datetime(2024, 1, 1)
    leads = [(i, t0 + dt.timedelta(days=i), [True, False, None][i % 3],
              t0 + dt.timedelta(days=i + 3) if i % 3 == 0 else None, ["VP", "Manager"][i % 2]) for i in range(60)]
    con.execute("CREATE TABLE leads (lead_id BIGINT, created_at TIMESTAMP, won BOOLEAN, won_at TIMESTAMP, "
                "title VARCHAR)")
    con.executemany("INSERT INTO leads VALUES (?, ?, ?, ?, ?)", leads)
    # a demo request the day before and two days after each lead's win (after it: never counted)
    events = [(i, "demo_request", t0 + dt.timedelta(days=i + d)) for i in range(60) for d in (2, 5)]
    con.execute("CREATE TABLE events (lead_id BIGINT, event_type VARCHAR, occurred_at TIMESTAMP)")
    con.executemany("INSERT INTO events VALUES (?, ?, ?)", events)
    if separate:
        con.execute("CREATE TABLE deals AS SELECT lead_id, won, won_at FROM leads WHERE lead_id % 5 <> 4")
    con.close()
    outcome = {"converted": "won", "converted_at": "won_at"} | ({"table": "deals"} if separate else {})
    config = config_from_dict({
        "source": {"events": {}, "outcome": outcome},
        "evaluation": {"scoring_point_days": 7, "outcome_window_days": 30},
        "fit": [{"type": "categorical", "column": "title", "points": {"VP": 10}}],
        "engagement": [{"event": "demo_request", "points": 5}],
        "thresholds": {"mql": 10, "sql": 15}, "bands": [5, 10, 15]})
    _, expected = _compare(path, config)
    # won leads (every third) scored 7 days in: only the demo request before their win (day 3) counts, where
    # the win's date is known (the deals table does not name every fifth lead)
    dated = [i for i in range(0, 60, 3) if not (separate and i % 5 == 4)]
    assert set(expected.engagement[dated].tolist()) == {5.0}
    assert set(expected.engagement[1::3].tolist()) == {10.0}
