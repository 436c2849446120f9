"""The outcome's three states (won / lost / open) with and without a conversion date, worked by hand.

An open lead is never counted lost, whatever its age; a lead still open at the data's end
is immature; counting stale open leads as lost is an explicit option (off by default).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest

from scoring.analysis.report import calibration
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict

T = dt.datetime
# lead, created, state (True won / False lost / None open), win date
LEADS = [
    ("a", T(2024, 1, 1), True, T(2024, 1, 20)),    # won inside the window (scoring Jan 1 + 60 d)
    ("b", T(2024, 1, 1), True, T(2024, 6, 1)),     # won after its window: not converted, mature
    ("c", T(2024, 1, 1), True, None),              # won, date unknown: converted
    ("d", T(2024, 1, 1), False, None),             # lost: mature, not converted
    ("e", T(2024, 1, 1), None, None),              # open for a year: immature, never lost
    ("f", T(2024, 12, 1), False, None),            # lost a month before the end: mature (known)
    ("g", T(2024, 12, 20), True, T(2024, 12, 28)), # won recently, inside its window: mature, converted
    ("h", T(2024, 12, 20), None, None),            # open, recent: immature
]
END = T(2024, 12, 31)


def _db(tmp_path, separate: bool = False):
    path = tmp_path / "states.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, won BOOLEAN, won_at TIMESTAMP, "
                "last_touch TIMESTAMP)")
    con.executemany("INSERT INTO leads VALUES (?, ?, ?, ?, NULL)", LEADS)
    con.execute("INSERT INTO leads VALUES ('z', '2024-12-31', NULL, NULL, NULL)")  # sets the data's end
    if separate:  # a deals file naming a-h (open deals too); 'y' and 'z' have no deal
        con.execute("CREATE TABLE deals AS SELECT lead_id, won, won_at FROM leads WHERE lead_id <> 'z'")
        con.execute("INSERT INTO leads VALUES ('y', '2024-01-01', NULL, NULL, NULL)")
    con.close()
    return path


def _config(outcome: dict) -> dict:
    return {"name": "states", "source": {"outcome": outcome}, "evaluation": {"scoring_point_days": 0,
            "outcome_window_days": 60}, "thresholds": {"mql": 1, "sql": 2}, "bands": [1]}


def _features(path, outcome):
    config = config_from_dict(_config(outcome))
    with open_source(path) as source:
        return config, extract_features(source, config, now=T(2025, 1, 1))


def _by_lead(features, array):
    return {k: bool(v) for k, v in zip(features.lead_id, array)}


@pytest.mark.parametrize("separate", [False, True])
def test_states_and_dates_together(tmp_path, separate):
    path = _db(tmp_path, separate)
    outcome = {"converted": "won", "converted_at": "won_at"}
    if separate:
        outcome["table"] = "deals"
    config, f = _features(path, outcome)
    assert f.data_end == END
    converted, mature, is_open = _by_lead(f, f.converted), _by_lead(f, f.mature), _by_lead(f, f.open)
    assert {k for k, v in converted.items() if v} == {"a", "c", "g"}
    # a lead the deals table does not name has not converted: mature once its window passed ('y'),
    # immature before ('z'); on the leads table a NULL state is open ('z')
    assert {k for k, v in mature.items() if v} == {"a", "b", "c", "d", "f", "g"} | ({"y"} if separate else set())
    assert {k for k, v in is_open.items() if v} == {"e", "h"} | (set() if separate else {"z"})
    assert not any(converted[k] or mature[k] for k in ("e", "h"))  # open is never lost, however old
    result = calibration(config, f)
    assert (result.mature_leads, result.conversions, result.open_leads, result.open_counted_lost) == (
        (7, 3, 2, 0) if separate else (6, 3, 3, 0))
    assert result.data.outcome == "states+time"


def test_stale_open_counts_lost_only_when_asked(tmp_path):
    path = _db(tmp_path)
    config, f = _features(path, {"converted": "won", "converted_at": "won_at", "open_lost_after_days": 90})
    mature, converted = _by_lead(f, f.mature), _by_lead(f, f.converted)
    assert mature["e"] and not converted["e"]          # open 365 days > 90: counted lost, as asked
    assert not mature["h"] and not mature["z"]         # open 11 days: still immature
    result = calibration(config, f)
    assert (result.open_leads, result.open_counted_lost) == (3, 1)
    from scoring.analysis.report import format_table

    assert "1 open for more than 90 days count as lost" in format_table(result)


def test_date_alone_keeps_the_window_rule(tmp_path):
    path = _db(tmp_path)
    config, f = _features(path, {"converted_at": "won_at"})
    mature, converted = _by_lead(f, f.mature), _by_lead(f, f.converted)
    # without states, a lead is mature when its window (60 days) has passed, converted if it won in it
    assert {k for k, v in mature.items() if v} == {"a", "b", "c", "d", "e"}
    assert {k for k, v in converted.items() if v and mature[k]} == {"a"}  # g won too, but is immature
    assert f.open is None and calibration(config, f).open_leads is None


def test_states_alone(tmp_path):
    path = _db(tmp_path)
    config, f = _features(path, {"converted": "won"})
    assert {k for k, v in _by_lead(f, f.converted).items() if v} == {"a", "b", "c", "g"}
    assert {k for k, v in _by_lead(f, f.mature).items() if v} == {"a", "b", "c", "d", "f", "g"}
    assert np.array_equal(f.open, ~f.mature)
