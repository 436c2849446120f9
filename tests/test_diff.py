"""Tests for scoring.diff (config_diff): expected rows written out by hand from the YAML."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np

from scoring.model.config import config_from_dict
from scoring.model.diff import config_diff
from scoring.model.engine import score
from scoring.model.features import Categorical, Features

# --------------------------------------------------------------------------- config_diff


def _diff(before, after) -> list[dict]:
    """``config_diff`` rows in their JSON form (`leadcal configs diff --format json`)."""
    return [c.to_dict() for c in config_diff(before, after)]


BASE = {
    "name": "base",
    "decay": {"kind": "exponential", "half_life_days": 30},
    "fit": [
        {"type": "categorical", "column": "seniority", "points": {"VP": 10, "Student": -5}, "other": 1},
        {"type": "numeric", "column": "company_size",
         "bins": [{"max": 100, "points": 0}, {"min": 100, "max": 1000, "points": 5}, {"min": 5000, "points": 9}],
         "other": 3, "missing": -1},
    ],
    "engagement": [
        {"event": "demo_request", "points": 20, "cap": 30},
        {"event": ["email_open", "email_click"], "points": 1},
        {"name": "pricing", "event": "pricing_page_view", "points": 5},
    ],
    "thresholds": {"mql": 10, "sql": 30},
    "bands": [10, 20, 30],
    "segments": [
        {"name": "enterprise", "filter": {"column": "company_size", "min": 1000},
         "thresholds": {"mql": 20, "sql": 40},
         "engagement": [{"event": "demo_request", "points": 30}]},
    ],
}


def _cfg(data: dict):
    return config_from_dict(copy.deepcopy(data))


def _changed(**edits):
    data = copy.deepcopy(BASE)
    for fn in edits.values():
        fn(data)
    return data


def test_same_config_and_reordered_rules_give_no_diff():
    assert _diff(_cfg(BASE), _cfg(BASE)) == []
    data = copy.deepcopy(BASE)
    data["fit"].reverse()
    data["engagement"] = [data["engagement"][2], data["engagement"][0], data["engagement"][1]]
    data["fit"][1]["points"] = {"Student": -5, "VP": 10}  # value order inside a rule neither
    assert _diff(_cfg(BASE), _cfg(data)) == []


def test_changed_engagement_points_reads_in_the_meetings_words():
    data = copy.deepcopy(BASE)
    data["engagement"][0]["points"] = 25
    assert _diff(_cfg(BASE), _cfg(data)) == [
        {"what": "engagement 'demo_request' points", "change": "changed", "before": 20.0, "after": 25.0},
    ]
    # a named rule is keyed by its name; a list of events by the events joined with '+'
    data = copy.deepcopy(BASE)
    data["engagement"][2]["cap"] = 15
    data["engagement"][1]["points"] = 2
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "engagement 'email_click+email_open' points", "change": "changed", "before": 1.0, "after": 2.0},
        {"what": "engagement 'pricing' cap", "change": "added", "before": None, "after": 15.0},
    ]


def test_added_and_removed_rules():
    data = copy.deepcopy(BASE)
    data["engagement"].append({"event": "webinar_attended", "points": 5, "cap": 10})
    del data["fit"][1]  # company_size
    rows = _diff(_cfg(BASE), _cfg(data))
    assert {"what": "engagement 'webinar_attended'", "change": "added", "before": None,
            "after": "points: 5.0, cap: 10.0"} in rows
    # the removed rule is summarised without its type and column
    assert {"what": "fit 'company_size'", "change": "removed",
            "before": "bins: [{'max': 100.0, 'points': 0.0}, {'min': 100.0, 'max': 1000.0, 'points': 5.0}, "
                      "{'min': 5000.0, 'points': 9.0}], other: 3.0, missing: -1.0",
            "after": None} in rows
    assert len(rows) == 2
    # and backwards: added <-> removed
    back = _diff(_cfg(data), _cfg(BASE))
    assert sorted((r["what"], r["change"]) for r in back) == [
        ("engagement 'webinar_attended'", "removed"), ("fit 'company_size'", "added"),
    ]


def test_changed_threshold_and_bands():
    data = copy.deepcopy(BASE)
    data["thresholds"]["mql"] = 12
    data["bands"] = [10, 25, 30]
    rows = _diff(_cfg(BASE), _cfg(data))
    assert rows == [
        {"what": "thresholds.mql", "change": "changed", "before": 10.0, "after": 12.0},
        {"what": "bands", "change": "changed", "before": [10.0, 20.0, 30.0], "after": [10.0, 25.0, 30.0]},
    ]


def test_changed_added_and_removed_categorical_values():
    data = copy.deepcopy(BASE)
    data["fit"][0]["points"] = {"VP": 12, "Director": 7}  # VP changed, Director added, Student removed
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "fit 'seniority' points.Director", "change": "added", "before": None, "after": 7.0},
        {"what": "fit 'seniority' points.Student", "change": "removed", "before": -5.0, "after": None},
        {"what": "fit 'seniority' points.VP", "change": "changed", "before": 10.0, "after": 12.0},
    ]


def test_changed_numeric_bin_and_missing_points():
    data = copy.deepcopy(BASE)
    data["fit"][1]["missing"] = 0
    rows = _diff(_cfg(BASE), _cfg(data))
    assert rows == [{"what": "fit 'company_size' missing", "change": "changed", "before": -1.0, "after": 0.0}]


def test_decay_kind_change():
    data = copy.deepcopy(BASE)
    data["decay"] = {"kind": "window", "days": 14}
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "decay.days", "change": "added", "before": None, "after": 14.0},
        {"what": "decay.half_life_days", "change": "removed", "before": 30.0, "after": None},
        {"what": "decay.kind", "change": "changed", "before": "exponential", "after": "window"},
    ]
    # a rule's own decay reads under the rule
    data = copy.deepcopy(BASE)
    data["engagement"][0]["decay"] = {"kind": "linear", "lifespan_days": 60}
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "engagement 'demo_request' decay.kind", "change": "added", "before": None, "after": "linear"},
        {"what": "engagement 'demo_request' decay.lifespan_days", "change": "added", "before": None,
         "after": 60.0},
    ]


def test_segment_changes():
    # the segment's own threshold and rule points
    data = copy.deepcopy(BASE)
    data["segments"][0]["thresholds"]["sql"] = 45
    data["segments"][0]["engagement"][0]["points"] = 35
    data["segments"][0]["filter"]["min"] = 2000
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "segment 'enterprise' engagement 'demo_request' points", "change": "changed",
         "before": 30.0, "after": 35.0},
        {"what": "segment 'enterprise' filter.min", "change": "changed", "before": 1000.0, "after": 2000.0},
        {"what": "segment 'enterprise' thresholds.sql", "change": "changed", "before": 40.0, "after": 45.0},
    ]
    # a new segment: its filter, thresholds and rules read as added; the model's own
    # demo_request rule is not touched by the segment's rule of the same event
    data = copy.deepcopy(BASE)
    data["segments"].append({"name": "students", "filter": {"column": "seniority", "values": ["Student"]},
                             "fit": [{"type": "categorical", "column": "seniority", "points": {"Student": 0}}]})
    rows = _diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "segment 'students' filter.column", "change": "added", "before": None, "after": "seniority"},
        {"what": "segment 'students' filter.values", "change": "added", "before": None, "after": ["Student"]},
        {"what": "segment 'students' fit 'seniority'", "change": "added", "before": None,
         "after": "points: {'Student': 0.0}, other: 0.0, missing: 0.0"},
    ]
    # the segment removed: everything it had reads as removed
    data = copy.deepcopy(BASE)
    data["segments"] = []
    rows = _diff(_cfg(BASE), _cfg(data))
    assert {r["change"] for r in rows} == {"removed"}
    assert sorted(r["what"] for r in rows) == [
        "segment 'enterprise' engagement 'demo_request'",
        "segment 'enterprise' filter.column",
        "segment 'enterprise' filter.min",
        "segment 'enterprise' thresholds.mql",
        "segment 'enterprise' thresholds.sql",
    ]


def _hand_features() -> Features:
    """Two leads: a VP at a 2,000-person company and a student at a 10-person one."""
    n = 2
    when = np.array(["2024-01-08", "2024-01-09"], dtype="datetime64[us]")
    return Features(
        spec=None, lead_id=np.arange(1, n + 1), created_at=when, scoring_at=when,
        converted=np.zeros(n, bool), mature=np.ones(n, bool),
        categorical={"seniority": Categorical(np.array([0, 1]), np.array(["VP", "Student"], dtype=object))},
        numeric={"company_size": np.array([2000.0, 10.0])},
        signals={}, data_end=dt.datetime(2024, 12, 31),
    )


def test_reordering_overlapping_segments_is_a_change():
    # The first matching segment wins, so with overlapping filters the order of segments
    # changes scores; a diff that says "no change" hides that from the meeting.
    data = {
        "fit": [{"type": "categorical", "column": "seniority", "points": {"VP": 10}}],
        "thresholds": {"mql": 10, "sql": 30},
        "bands": [10],
        "segments": [
            {"name": "big", "filter": {"column": "company_size", "min": 1000}, "thresholds": {"mql": 5, "sql": 8}},
            {"name": "vps", "filter": {"column": "seniority", "values": ["VP"]},
             "thresholds": {"mql": 50, "sql": 60}},
        ],
    }
    first = _cfg(data)
    data["segments"].reverse()
    second = _cfg(data)
    features = _hand_features()
    # lead 1 (VP, 2000 people, fit 10) is in both segments:
    # 'big' first -> thresholds 5/8 -> SQL (2); 'vps' first -> thresholds 50/60 -> below MQL (0)
    assert score(first, features).tier.tolist() == [2, 0]
    assert score(second, features).tier.tolist() == [0, 0]
    assert _diff(first, second) != []


def test_description_and_name_changes():
    data = copy.deepcopy(BASE)
    data["name"] = "draft"
    data["description"] = "Q3 draft"
    rows = _diff(_cfg(BASE), _cfg(data))
    assert rows == [
        {"what": "name", "change": "changed", "before": "base", "after": "draft"},
        {"what": "description", "change": "added", "before": None, "after": "Q3 draft"},
    ]
