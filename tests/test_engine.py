"""Engine and features on hand-built databases: every score below is worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml

from scoring.data.extract import extract_features
from scoring.data.source import SourceError, open_source
from scoring.model.config import config_from_dict, parse_config
from scoring.model.engine import TIERS, score
from scoring.model.features import feature_spec

from .conftest import DAY, SMALL_CONFIG, T0, file_digest, make_db


def _features(db, config):
    with open_source(db) as source:
        return extract_features(source, config)


def _by_id(features, values):
    return dict(zip(features.lead_id.tolist(), np.asarray(values).tolist()))


def test_scores_every_rule_kind_by_hand(small_db):
    config = parse_config(SMALL_CONFIG)
    features = _features(small_db, config)
    scores = score(config, features)
    assert features.lead_id.tolist() == [1, 2, 3, 4, 5, 6]
    assert _by_id(features, scores.fit) == {1: 15, 2: -5, 3: 1, 4: 13, 5: 10, 6: 2}
    # lead 1: 2 demo requests * 20 = 40, capped at 30; 1 email open * 1 -> 31
    # lead 2: click + open = 2; lead 4: demo requests at +1 and +2 days: 40 -> 30
    assert _by_id(features, scores.engagement) == {1: 31, 2: 2, 3: 0, 4: 30, 5: 0, 6: 0}
    assert _by_id(features, scores.total) == {1: 46, 2: -3, 3: 1, 4: 43, 5: 10, 6: 2}
    # bands [10, 20, 30]: 46 -> 3, -3 -> 0, 1 -> 0, 43 -> 3, 10 -> 1 (on the cut goes up), 2 -> 0
    assert scores.band.tolist() == [3, 0, 0, 3, 1, 0]
    assert [TIERS[t] for t in scores.tier] == ["sql", "below_mql", "below_mql", "sql", "mql", "below_mql"]


def test_outcome_window_and_maturity(small_db):
    features = _features(small_db, parse_config(SMALL_CONFIG))
    assert features.data_end == dt.datetime(2024, 6, 1)
    assert _by_id(features, features.converted) == {1: True, 2: False, 3: False, 4: True, 5: False, 6: False}
    assert _by_id(features, features.mature) == {1: True, 2: True, 3: True, 4: True, 5: True, 6: False}


def test_event_after_scoring_point_changes_no_score(tmp_path, small_db):
    config = parse_config(SMALL_CONFIG)
    before = score(config, _features(small_db, config))
    import duckdb

    con = duckdb.connect(str(small_db))
    con.execute("INSERT INTO events VALUES (3, 'demo_request', ?), (5, 'email_open', ?)",
                [T0 + 2 * DAY + 7 * DAY, T0 + 4 * DAY + 7 * DAY + dt.timedelta(seconds=1)])
    con.close()
    after = score(config, _features(small_db, config))
    np.testing.assert_array_equal(before.total, after.total)
    # and one second before the scoring point does count
    con = duckdb.connect(str(small_db))
    con.execute("INSERT INTO events VALUES (3, 'demo_request', ?)",
                [T0 + 2 * DAY + 7 * DAY - dt.timedelta(seconds=1)])
    con.close()
    later = score(config, _features(small_db, config))
    assert later.total[2] == before.total[2] + 20


DECAY_EVENTS_AGES = [1, 7, 14, 30]  # days before the scoring point


@pytest.mark.parametrize(
    "decay, expected",
    [
        ({"kind": "none"}, 4.0),
        ({"kind": "exponential", "half_life_days": 7}, 0.5 ** (1 / 7) + 0.5 + 0.25 + 0.5 ** (30 / 7)),
        ({"kind": "linear", "lifespan_days": 14}, (1 - 1 / 14) + (1 - 7 / 14) + 0 + 0),
        ({"kind": "window", "days": 10}, 2.0),
    ],
)
def test_each_decay_kind(tmp_path, decay, expected):
    scoring_at = T0 + 7 * DAY
    events = [(1, "visit", scoring_at - age * DAY) for age in DECAY_EVENTS_AGES]
    db = make_db(tmp_path / "d.duckdb", [(1, T0, "VP", 1, "x"), (2, T0 + 200 * DAY, "VP", 1, "x")], events)
    data = {
        "source": {"events": {}, "outcome": {"table": "outcomes"}},
        "decay": decay,
        "engagement": [{"event": "visit", "points": 1}],
        "thresholds": {"mql": 1, "sql": 2},
        "bands": [1],
    }
    config = config_from_dict(data)
    scores = score(config, _features(db, config))
    assert scores.engagement[0] == pytest.approx(expected, rel=1e-9)
    # a per-rule override wins over the model's decay
    data["decay"] = {"kind": "window", "days": 1000}
    data["engagement"][0]["decay"] = decay
    config = config_from_dict(data)
    assert score(config, _features(db, config)).engagement[0] == pytest.approx(expected, rel=1e-9)


def test_caps_on_each_part_and_negative_rule_cap(small_db):
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"].append({"event": "email_click", "points": -8, "cap": 5})
    data["caps"] = {"fit": {"min": 0, "max": 12}, "engagement": {"max": 25}, "total": {"min": 0, "max": 30}}
    config = config_from_dict(data)
    scores = score(config, _features(small_db, config))
    fit = _by_id(scores_features := _features(small_db, config), scores.fit)
    assert fit == {1: 12, 2: 0, 3: 1, 4: 12, 5: 10, 6: 2}
    # lead 2: click + open = 2, click rule -8 capped at -5 -> -3
    assert _by_id(scores_features, scores.engagement) == {1: 25, 2: -3, 3: 0, 4: 25, 5: 0, 6: 0}
    # totals 37 -> 30 (cap), -3 -> 0 (cap)
    assert _by_id(scores_features, scores.total) == {1: 30, 2: 0, 3: 1, 4: 30, 5: 10, 6: 2}


def test_activity_column_rule_and_segments(small_db):
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"].append({"column": "company_size", "points": 0.001, "name": "size"})
    data["segments"] = [
        {"name": "students", "filter": {"column": "seniority", "values": ["student"]},
         "fit": [], "engagement": [], "thresholds": {"mql": -10, "sql": -5}},
        {"name": "big", "filter": {"column": "company_size", "min": 2000},
         "fit": [{"type": "categorical", "column": "seniority", "points": {"vp": 50}}]},
    ]
    config = config_from_dict(data)
    features = _features(small_db, config)
    scores = score(config, features)
    assert _by_id(features, scores.segment) == {1: -1, 2: 0, 3: -1, 4: 1, 5: 1, 6: -1}
    expected_eng = {1: 31 + 0.5, 2: 0, 3: 0, 4: 30 + 2.0, 5: 5.0, 6: 0.099}
    for lead, value in _by_id(features, scores.engagement).items():
        assert value == pytest.approx(expected_eng[lead])
    assert _by_id(features, scores.fit) == {1: 15, 2: 0, 3: 1, 4: 50, 5: 0, 6: 2}
    # student lead 2 scores 0, which is at its segment's SQL threshold (-5)
    assert TIERS[scores.tier[1]] == "sql"


def test_rescoring_needs_no_database(small_db):
    config = parse_config(SMALL_CONFIG)
    source = open_source(small_db)
    features = extract_features(source, config)
    source.close()  # any query from here on would fail
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"][0]["points"] = 5
    data["fit"][0]["points"]["VP"] = 0
    data["thresholds"] = {"mql": 2, "sql": 12}
    changed = config_from_dict(data)
    assert feature_spec(changed) == feature_spec(config)
    scores = score(changed, features)
    # lead 1: fit 0 + 5, engagement 2*5 + 1 = 11 -> 16
    assert scores.total[0] == 16
    assert TIERS[scores.tier[0]] == "sql"


def test_quality_findings_are_counted(small_db):
    features = _features(small_db, parse_config(SMALL_CONFIG))
    found = {(f.table, f.column, f.problem): f.count for f in features.quality.findings}
    assert found == {("events", "lead_id", "events of lead ids not in the leads table"): 1}
    assert features.quality.counts == {"leads": 6, "events": 11, "outcomes": 3}


def test_messy_rows_reported_not_fatal(tmp_path):
    leads = [(1, T0, "VP", 1, "x"), (1, T0 + DAY, "CEO", 1, "x"), (2, None, "VP", 1, "x"),
             (None, T0, "VP", 1, "x"), (3, T0 + 300 * DAY, "VP", 1, "x")]
    events = [(1, "visit", None), (1, None, T0), (1, "visit", dt.datetime(2999, 1, 1))]
    outcomes = [(1, T0 - DAY, 5.0), (1, T0 + DAY, 7.0), (3, dt.datetime(2999, 1, 1), 1.0)]
    db = make_db(tmp_path / "m.duckdb", leads, events, outcomes)
    config = config_from_dict({
        "source": {"events": {}, "outcome": {"table": "outcomes"}},
        "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 1}}],
        "engagement": [{"event": "visit", "points": 1}],
        "thresholds": {"mql": 1, "sql": 2}, "bands": [1],
    })
    features = _features(db, config)
    assert features.lead_id.tolist() == [1, 3]
    assert features.categorical["seniority"].values().tolist() == ["VP", "VP"]  # earliest row of id 1
    assert features.converted.tolist() == [True, False]  # future conversion not known
    problems = {(f.column, f.problem.split(" (")[0]): f.count for f in features.quality.findings}
    assert problems == {
        ("lead_id", "rows without a lead id"): 1,
        ("lead_id", "duplicate rows of an id"): 1,
        ("created_at", "leads without a creation time"): 1,
        ("event_type", "events without a type"): 1,
        ("occurred_at", "events without a time"): 1,
        ("occurred_at", "events dated after the data's end"): 1,
        ("lead_id", "extra outcome rows of a lead"): 1,
        ("converted_at", "conversions dated before the lead was created"): 1,
        ("converted_at", "conversions dated after the data's end"): 1,
    }


def test_missing_tables_and_columns_all_reported(tmp_path, small_db):
    data = yaml.safe_load(SMALL_CONFIG)
    data["fit"].append({"type": "categorical", "column": "industry", "points": {}})
    data["fit"].append({"type": "numeric", "column": "email_domain_type", "bins": [{"points": 1}]})
    data["source"]["outcome"]["table"] = "deals"
    config = config_from_dict(data)
    with open_source(small_db) as source, pytest.raises(SourceError) as info:
        extract_features(source, config)
    problems = info.value.problems
    assert len(problems) == 3
    assert any("table 'deals' (outcome lead id) not found" in p for p in problems)
    assert any("column 'industry'" in p and "table 'leads'" in p for p in problems)
    assert any("'leads.email_domain_type'" in p and "is VARCHAR, needs a number" in p for p in problems)


def test_source_errors_for_bad_files(tmp_path):
    with pytest.raises(SourceError, match="database file not found"):
        open_source(tmp_path / "nope.duckdb")
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database")
    digest = file_digest(junk)
    with pytest.raises(SourceError, match="not a DuckDB database file"):
        open_source(junk)
    assert file_digest(junk) == digest


def test_extraction_never_writes_to_the_database(small_db):
    digest = file_digest(small_db)
    config = parse_config(SMALL_CONFIG)
    with open_source(small_db) as source:
        extract_features(source, config)
        with pytest.raises(Exception):
            source.con.execute("CREATE TABLE x (a INT)")
    assert file_digest(small_db) == digest
    assert not small_db.with_suffix(".duckdb.wal").exists()
