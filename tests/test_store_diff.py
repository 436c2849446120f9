"""Tests for scoring.diff (config_diff) and scoring.store (the config store).

Expected diff rows are written out by hand from the two YAML documents; store tests
check the files on disk byte by byte.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import pathlib

import numpy as np
import pytest
import yaml

from scoring.config import config_from_dict, load_config, parse_config
from scoring.diff import config_diff
from scoring.engine import score
from scoring.features import Categorical, Features
from scoring.store import (
    APPROVED_NAME,
    approved_config,
    check_name,
    list_configs,
    load_named,
    save_new,
)

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG, file_digest

# --------------------------------------------------------------------------- config_diff

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
    assert config_diff(_cfg(BASE), _cfg(BASE)) == []
    data = copy.deepcopy(BASE)
    data["fit"].reverse()
    data["engagement"] = [data["engagement"][2], data["engagement"][0], data["engagement"][1]]
    data["fit"][1]["points"] = {"Student": -5, "VP": 10}  # value order inside a rule neither
    assert config_diff(_cfg(BASE), _cfg(data)) == []


def test_changed_engagement_points_reads_in_the_meetings_words():
    data = copy.deepcopy(BASE)
    data["engagement"][0]["points"] = 25
    assert config_diff(_cfg(BASE), _cfg(data)) == [
        {"what": "engagement 'demo_request' points", "change": "changed", "before": 20.0, "after": 25.0},
    ]
    # a named rule is keyed by its name; a list of events by the events joined with '+'
    data = copy.deepcopy(BASE)
    data["engagement"][2]["cap"] = 15
    data["engagement"][1]["points"] = 2
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "engagement 'email_click+email_open' points", "change": "changed", "before": 1.0, "after": 2.0},
        {"what": "engagement 'pricing' cap", "change": "added", "before": None, "after": 15.0},
    ]


def test_added_and_removed_rules():
    data = copy.deepcopy(BASE)
    data["engagement"].append({"event": "webinar_attended", "points": 5, "cap": 10})
    del data["fit"][1]  # company_size
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert {"what": "engagement 'webinar_attended'", "change": "added", "before": None,
            "after": "points: 5.0, cap: 10.0"} in rows
    # the removed rule is summarised without its type and column
    assert {"what": "fit 'company_size'", "change": "removed",
            "before": "bins: [{'max': 100.0, 'points': 0.0}, {'min': 100.0, 'max': 1000.0, 'points': 5.0}, "
                      "{'min': 5000.0, 'points': 9.0}], other: 3.0, missing: -1.0",
            "after": None} in rows
    assert len(rows) == 2
    # and backwards: added <-> removed
    back = config_diff(_cfg(data), _cfg(BASE))
    assert sorted((r["what"], r["change"]) for r in back) == [
        ("engagement 'webinar_attended'", "removed"), ("fit 'company_size'", "added"),
    ]


def test_changed_threshold_and_bands():
    data = copy.deepcopy(BASE)
    data["thresholds"]["mql"] = 12
    data["bands"] = [10, 25, 30]
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert rows == [
        {"what": "thresholds.mql", "change": "changed", "before": 10.0, "after": 12.0},
        {"what": "bands", "change": "changed", "before": [10.0, 20.0, 30.0], "after": [10.0, 25.0, 30.0]},
    ]


def test_changed_added_and_removed_categorical_values():
    data = copy.deepcopy(BASE)
    data["fit"][0]["points"] = {"VP": 12, "Director": 7}  # VP changed, Director added, Student removed
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "fit 'seniority' points.Director", "change": "added", "before": None, "after": 7.0},
        {"what": "fit 'seniority' points.Student", "change": "removed", "before": -5.0, "after": None},
        {"what": "fit 'seniority' points.VP", "change": "changed", "before": 10.0, "after": 12.0},
    ]


def test_changed_numeric_bin_and_missing_points():
    data = copy.deepcopy(BASE)
    data["fit"][1]["missing"] = 0
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert rows == [{"what": "fit 'company_size' missing", "change": "changed", "before": -1.0, "after": 0.0}]


def test_decay_kind_change():
    data = copy.deepcopy(BASE)
    data["decay"] = {"kind": "window", "days": 14}
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "decay.days", "change": "added", "before": None, "after": 14.0},
        {"what": "decay.half_life_days", "change": "removed", "before": 30.0, "after": None},
        {"what": "decay.kind", "change": "changed", "before": "exponential", "after": "window"},
    ]
    # a rule's own decay reads under the rule
    data = copy.deepcopy(BASE)
    data["engagement"][0]["decay"] = {"kind": "linear", "lifespan_days": 60}
    rows = config_diff(_cfg(BASE), _cfg(data))
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
    rows = config_diff(_cfg(BASE), _cfg(data))
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
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert sorted(rows, key=lambda r: r["what"]) == [
        {"what": "segment 'students' filter.column", "change": "added", "before": None, "after": "seniority"},
        {"what": "segment 'students' filter.values", "change": "added", "before": None, "after": ["Student"]},
        {"what": "segment 'students' fit 'seniority'", "change": "added", "before": None,
         "after": "points: {'Student': 0.0}, other: 0.0, missing: 0.0"},
    ]
    # the segment removed: everything it had reads as removed
    data = copy.deepcopy(BASE)
    data["segments"] = []
    rows = config_diff(_cfg(BASE), _cfg(data))
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
        converted_at=np.full(n, np.datetime64("NaT"), dtype="datetime64[us]"), deal_value=np.full(n, np.nan),
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
    assert config_diff(first, second) != []


def test_description_and_name_changes():
    data = copy.deepcopy(BASE)
    data["name"] = "draft"
    data["description"] = "Q3 draft"
    rows = config_diff(_cfg(BASE), _cfg(data))
    assert rows == [
        {"what": "name", "change": "changed", "before": "base", "after": "draft"},
        {"what": "description", "change": "added", "before": None, "after": "Q3 draft"},
    ]


# --------------------------------------------------------------------------- check_name


@pytest.mark.parametrize("bad", ["../x", "a/b", "", " ", "x" * 65, "with space", "a.b", "v1.2", ".hidden",
                                 "-x", "_x", "a\\b", "a\nb", "naïve"])
def test_check_name_rejects(bad):
    with pytest.raises(ValueError, match="config name"):
        check_name(bad)


@pytest.mark.parametrize("good", ["q3-draft_1", "x" * 64, "A", "9lives"])
def test_check_name_accepts(good):
    assert check_name(good) == good


def test_load_named_refuses_a_path(tmp_path):
    (tmp_path / "x.yaml").write_text(SMALL_CONFIG, encoding="utf-8")
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(ValueError):
        load_named(store, "../x")


# --------------------------------------------------------------------------- save_new


def test_save_new_round_trips_with_the_save_name(tmp_path):
    store = tmp_path / "store"  # does not exist yet: created on the first save
    config = parse_config(SMALL_CONFIG)
    path = save_new(store, "q3-draft_1", config, note="first try", author="ann")
    assert path == store / "q3-draft_1.yaml"
    loaded = load_named(store, "q3-draft_1")
    assert loaded.name == "q3-draft_1"
    assert loaded.model_dump() == config.model_copy(update={"name": "q3-draft_1"}).model_dump()
    assert load_config(path).model_dump() == loaded.model_dump()
    # and it scores like the original: the same rule list
    assert loaded.engagement == config.engagement and loaded.fit == config.fit


def test_save_new_header_has_note_lines_and_author(tmp_path):
    before = dt.datetime.now().replace(microsecond=0)
    path = save_new(tmp_path, "noted", parse_config(SMALL_CONFIG),
                    note="  raise demo request\nlower email opens\n\nsee minutes  ", author="ann")
    after = dt.datetime.now()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# saved ") and lines[0].endswith(" by ann")
    stamp = dt.datetime.fromisoformat(lines[0][len("# saved "):-len(" by ann")])
    assert before <= stamp <= after
    assert lines[1:5] == ["# note: raise demo request", "# note: lower email opens", "# note: ",
                          "# note: see minutes"]
    assert not lines[5].startswith("#")
    # the comments are comments: the YAML has no trace of them
    assert "note" not in yaml.safe_load(path.read_text(encoding="utf-8"))


def test_save_new_without_note_or_author(tmp_path):
    path = save_new(tmp_path, "plain", parse_config(SMALL_CONFIG))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# saved ") and " by " not in lines[0]
    assert not lines[1].startswith("#")


def test_save_new_refuses_an_existing_name_and_keeps_the_file(tmp_path):
    first = save_new(tmp_path, "q3", parse_config(SMALL_CONFIG), note="the good one")
    digest = file_digest(first)
    other = parse_config(SMALL_CONFIG.replace("thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 1, sql: 2}"))
    with pytest.raises(FileExistsError, match="'q3' already exists"):
        save_new(tmp_path, "q3", other, note="careless")
    with pytest.raises(FileExistsError):
        save_new(tmp_path, " q3 ", other)  # the same name once trimmed
    assert file_digest(first) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q3.yaml"]  # no temp file left
    assert load_named(tmp_path, "q3").thresholds.mql == 10


def test_save_new_loses_the_race_without_overwriting(tmp_path, monkeypatch):
    # Another writer creates the file between the existence check and the link.
    first = save_new(tmp_path, "race", parse_config(SMALL_CONFIG))
    digest = file_digest(first)
    real_exists = pathlib.Path.exists

    def exists(self, *args, **kwargs):
        return False if self == first else real_exists(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "exists", exists)
    with pytest.raises(FileExistsError, match="'race' already exists"):
        save_new(tmp_path, "race", parse_config(SMALL_CONFIG), note="second")
    monkeypatch.undo()
    assert file_digest(first) == digest
    assert sorted(os.listdir(tmp_path)) == ["race.yaml"]


def test_save_new_leaves_no_temp_files(tmp_path):
    for name in ("a", "b", "c"):
        save_new(tmp_path, name, parse_config(SMALL_CONFIG), note=name)
    assert sorted(os.listdir(tmp_path)) == ["a.yaml", "b.yaml", "c.yaml"]


def test_save_new_bad_name_writes_nothing(tmp_path):
    with pytest.raises(ValueError):
        save_new(tmp_path, "../escape", parse_config(SMALL_CONFIG))
    assert os.listdir(tmp_path) == []
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_save_new_author_cannot_change_the_saved_config(tmp_path):
    # The author goes in a comment line; a newline in it must not turn the rest into YAML
    # that changes the model (here: a total cap of 1, which would change every score).
    config = parse_config(SMALL_CONFIG)
    author = "ann\ncaps: {total: {max: 1}}\ndescription: injected"
    try:
        path = save_new(tmp_path, "who", config, author=author)
    except ValueError:
        assert os.listdir(tmp_path) == []  # refusing the author is fine too
        return
    loaded = load_config(path)
    assert loaded.model_dump() == config.model_copy(update={"name": "who"}).model_dump()


# --------------------------------------------------------------------------- list_configs, approved


def test_list_configs_ignores_non_matching_files(tmp_path):
    for name in ("b-2.yaml", "a.yaml", "Z_9.yaml", "a.b.yaml", ".hidden.yaml", "notes.txt", "c.yml",
                 "with space.yaml", ".q3.123.tmp", "-dash.yaml", "x" * 65 + ".yaml", "yaml"):
        (tmp_path / name).write_text(SMALL_CONFIG, encoding="utf-8")
    # sorted by code point: upper case first
    assert list_configs(tmp_path) == ["Z_9", "a", "b-2"]
    assert list_configs(tmp_path / "missing") == []


def test_list_configs_sees_what_save_new_wrote(tmp_path):
    save_new(tmp_path, "q3-draft_1", parse_config(SMALL_CONFIG))
    save_new(tmp_path, "default", parse_config(SMALL_CONFIG))
    assert list_configs(tmp_path) == ["default", "q3-draft_1"]


def test_approved_config_falls_back_to_the_shipped_default(tmp_path):
    digest = file_digest(DEFAULT_CONFIG)
    for store in (tmp_path / "missing", tmp_path):
        got = approved_config(store)
        assert got.model_dump() == load_config(DEFAULT_CONFIG).model_dump()
        assert got.name == "default" and got.thresholds.mql == 40  # what default.yaml says
    assert file_digest(DEFAULT_CONFIG) == digest


def test_approved_config_uses_the_stores_default(tmp_path):
    (tmp_path / "other.yaml").write_text(SMALL_CONFIG, encoding="utf-8")
    assert approved_config(tmp_path).name == "default"  # other names are not approved
    save_new(tmp_path, APPROVED_NAME, parse_config(SMALL_CONFIG))
    got = approved_config(tmp_path)
    assert got.name == "default"  # save_new names it after the file
    assert got.thresholds.mql == 10 and got.thresholds.sql == 30  # SMALL_CONFIG's, not the shipped 40/60
    assert got.model_dump() == load_named(tmp_path, "default").model_dump()
