"""The on-disk feature cache: the same features back, never a stale or damaged entry, never a write to the data."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil

import duckdb
import numpy as np
import pytest

from scoring.analysis.calibrate import calibration_view
from scoring.data import feature_cache
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict, config_to_dict, load_config
from scoring.model.features import decay_free_spec, derive_features, feature_spec
from scoring.model.kpis import month_status_key

from .conftest import DEFAULT_CONFIG


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("fc") / "demo.duckdb"
    generate(path, leads=3000, seed=11)
    return path


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _base(db, config, now=None):
    spec = decay_free_spec(feature_spec(config))
    with open_source(db) as source:
        return spec, extract_features(source, spec, now=now, sum_signals=False)


def _load(db, spec, folder, now=None):
    with open_source(db) as source:
        return feature_cache.load(source, spec, folder, now=now)


def _same(a, b) -> None:
    for name in ("lead_id", "created_at", "scoring_at", "converted", "mature"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.open is None) == (b.open is None)
    if a.open is not None:
        np.testing.assert_array_equal(a.open, b.open)
    assert list(a.categorical) == list(b.categorical) and list(a.numeric) == list(b.numeric)
    for k in a.categorical:
        np.testing.assert_array_equal(a.categorical[k].codes, b.categorical[k].codes)
        assert list(a.categorical[k].categories) == list(b.categorical[k].categories)
    for k in a.numeric:
        np.testing.assert_array_equal(a.numeric[k], b.numeric[k])
    assert (a.events is None) == (b.events is None)
    if a.events is not None:
        assert a.events.types == b.events.types
        for name in ("row", "starts", "age"):
            np.testing.assert_array_equal(getattr(a.events, name), getattr(b.events, name))
    assert a.data_end == b.data_end
    assert a.quality.to_dict() == b.quality.to_dict()


def test_round_trip_gives_the_same_features_and_the_same_numbers(demo, tmp_path):
    config = load_config(DEFAULT_CONFIG)
    before = _sha(demo)
    spec, base = _base(demo, config)
    assert feature_cache.save(demo, base, tmp_path) is not None
    loaded = _load(demo, spec, tmp_path)
    assert loaded is not None
    _same(base, loaded)
    # the month x outcome key every KPI counts by comes from the entry, equal to computing it again
    kept_key, kept_span = loaded.cache["month_status_key"]
    base.cache.pop("month_status_key", None)
    fresh_key, fresh_span = month_status_key(base)
    assert kept_span == fresh_span and kept_key.dtype == fresh_key.dtype
    np.testing.assert_array_equal(kept_key, fresh_key)
    # what the meeting sees is computed from either identically (the decayed sums derived from the kept events)
    draft = config_from_dict({**config_to_dict(config), "thresholds": {"mql": 35, "sql": 55}})
    views = [calibration_view(draft, config, derive_features(b, feature_spec(config))) for b in (base, loaded)]
    assert views[0].draft.result == views[1].draft.result
    assert views[0].draft.kpis == views[1].draft.kpis
    assert _sha(demo) == before  # the user's database is only read


def test_a_changed_database_is_never_read_from_the_cache(demo, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(demo, copy)
    config = load_config(DEFAULT_CONFIG)
    spec, base = _base(copy, config)
    folder = tmp_path / "cache"
    feature_cache.save(copy, base, folder)
    assert _load(copy, spec, folder) is not None
    con = duckdb.connect(str(copy))  # one more lead: a different database
    con.execute("INSERT INTO leads SELECT * REPLACE (lead_id + 10000000 AS lead_id) FROM leads LIMIT 1")
    con.close()
    assert _load(copy, spec, folder) is None
    spec2, base2 = _base(copy, config)
    assert base2.n == base.n + 1


def test_another_spec_is_another_entry(demo, tmp_path):
    config = load_config(DEFAULT_CONFIG)
    spec, base = _base(demo, config)
    feature_cache.save(demo, base, tmp_path)
    longer = config_from_dict({**config_to_dict(config), "evaluation": {"scoring_point_days": 7,
                                                                       "outcome_window_days": 120}})
    assert _load(demo, decay_free_spec(feature_spec(longer)), tmp_path) is None


def test_a_future_time_that_came_into_the_past_invalidates(tmp_path):
    """Features depend on the data's end, which moves when a future timestamp's time comes."""
    db = tmp_path / "future.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE leads (lead_id INTEGER, created_at TIMESTAMP)")
    con.execute("CREATE TABLE outcomes (lead_id INTEGER, converted_at TIMESTAMP)")
    con.execute("INSERT INTO leads VALUES (1, '2024-01-01'), (2, '2024-02-01'), (3, '2024-06-01')")
    con.execute("INSERT INTO outcomes VALUES (1, '2024-01-20')")
    con.close()
    config = config_from_dict({"source": {"leads": {"table": "leads", "id": "lead_id", "created_at": "created_at"},
                                          "outcome": {"table": "outcomes", "converted_at": "converted_at"}},
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    then = dt.datetime(2024, 3, 1)  # lead 3 is in the future
    spec, base = _base(db, config, now=then)
    assert base.data_end == dt.datetime(2024, 2, 1)
    feature_cache.save(db, base, tmp_path / "c")
    assert _load(db, spec, tmp_path / "c", now=then) is not None
    assert _load(db, spec, tmp_path / "c", now=dt.datetime(2024, 7, 1)) is None


@pytest.mark.parametrize("damage", ["truncate", "manifest", "missing"])
def test_a_damaged_entry_is_ignored(demo, tmp_path, damage):
    config = load_config(DEFAULT_CONFIG)
    spec, base = _base(demo, config)
    entry = feature_cache.save(demo, base, tmp_path)
    if damage == "truncate":
        part = entry / "events.age.npy"
        part.write_bytes(part.read_bytes()[:200])
    elif damage == "manifest":
        (entry / "manifest.json").write_text("{not json")
    else:
        (entry / "lead_id.npy").unlink()
    assert _load(demo, spec, tmp_path) is None


def test_text_ids_and_the_arrays_are_private_copies_on_write(tmp_path):
    db = tmp_path / "text.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, tier VARCHAR)")
    con.execute("CREATE TABLE outcomes (lead_id VARCHAR, converted_at TIMESTAMP)")
    con.execute("INSERT INTO leads VALUES ('00Q5g00000AbC', '2024-01-01', 'Gold'), ('ünïcode-2', '2024-01-02', NULL),"
                " ('x3', '2024-01-03', 'Silver')")
    con.execute("INSERT INTO outcomes VALUES ('x3', '2024-01-05')")
    con.close()
    config = config_from_dict({"source": {"leads": {"table": "leads", "id": "lead_id", "created_at": "created_at"},
                                          "outcome": {"table": "outcomes", "converted_at": "converted_at"}},
                               "fit": [{"type": "categorical", "column": "tier", "points": {"Gold": 5}}],
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    spec, base = _base(db, config, now=dt.datetime(2024, 12, 1))
    entry = feature_cache.save(db, base, tmp_path / "c")
    loaded = _load(db, spec, tmp_path / "c", now=dt.datetime(2024, 12, 1))
    assert list(loaded.lead_id) == ["00Q5g00000AbC", "ünïcode-2", "x3"]
    assert list(loaded.categorical["tier"].categories) == list(base.categorical["tier"].categories)
    saved = (entry / "scoring_at.npy").read_bytes()
    loaded.scoring_at[0] = np.datetime64("2000-01-01")  # copy-on-write: this process only
    assert (entry / "scoring_at.npy").read_bytes() == saved


def test_a_cache_that_cannot_be_written_costs_speed_not_correctness(demo, tmp_path):
    config = load_config(DEFAULT_CONFIG)
    spec, base = _base(demo, config)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert feature_cache.save(demo, base, blocked / "cache") is None
    assert _load(demo, spec, blocked / "cache") is None


def test_old_entries_are_evicted(demo, tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "MAX_ENTRIES", 2)
    config = load_config(DEFAULT_CONFIG)
    entries = []
    for window in (30, 60, 90):
        cfg = config_from_dict({**config_to_dict(config), "evaluation": {"scoring_point_days": 7,
                                                                         "outcome_window_days": window}})
        spec, base = _base(demo, cfg)
        entries.append(feature_cache.save(demo, base, tmp_path))
        os.utime(entries[-1], (1e9 + window, 1e9 + window))  # distinct, increasing use times
    assert not entries[0].exists() and entries[1].exists() and entries[2].exists()


def test_every_features_field_is_known_to_the_cache():
    """A field added to Features must be saved and loaded too, or a restart would lose it."""
    from dataclasses import fields

    from scoring.model.features import Features

    assert {f.name for f in fields(Features)} == set(feature_cache.FIELDS)


def test_a_three_state_outcome_keeps_its_open_leads(tmp_path):
    db = tmp_path / "stages.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE deals (id INTEGER, created TIMESTAMP, won BOOLEAN, closed TIMESTAMP)")
    con.execute("INSERT INTO deals VALUES (1, '2024-01-01', true, '2024-01-20'), (2, '2024-01-02', NULL, NULL),"
                " (3, '2024-01-03', false, '2024-02-01'), (4, '2024-01-04', NULL, NULL)")
    con.close()
    config = config_from_dict({"source": {"leads": {"table": "deals", "id": "id", "created_at": "created"},
                                          "outcome": {"converted": "won", "converted_at": "closed"}},
                               "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    spec, base = _base(db, config, now=dt.datetime(2024, 12, 1))
    assert base.open is not None and base.open.tolist() == [False, True, False, True]
    feature_cache.save(db, base, tmp_path / "c")
    loaded = _load(db, spec, tmp_path / "c", now=dt.datetime(2024, 12, 1))
    _same(base, loaded)
