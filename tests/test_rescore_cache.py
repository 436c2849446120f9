"""A threshold move reuses the remembered scores; the numbers equal a computation from scratch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from scoring.analysis.calibrate import model_view
from scoring.analysis.report import calibration
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict
from scoring.model.engine import score
from scoring.model.kpis import kpis

from .conftest import DEFAULT_CONFIG


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "d.duckdb"
    generate(path, leads=8_000, seed=4)
    return path


def _fresh(config, db):
    with open_source(db) as source:
        features = extract_features(source, config)
    scores = score(config, features)
    return features, scores, calibration(config, features, scores)


def _json(x):
    return json.loads(json.dumps(x.to_dict()))


@pytest.mark.parametrize("segments", [False, True])
def test_threshold_moves_match_a_fresh_computation(demo, segments):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    if segments:
        data["segments"] = [{"name": "ent", "filter": {"column": "segment", "values": ["Enterprise"]},
                             "thresholds": {"mql": 30, "sql": 50}}]
    base = config_from_dict(data)
    with open_source(demo) as source:
        features = extract_features(source, base)
    model_view(base, features)  # remembers the scores of these rules
    for mql, sql in ((35, 60), (20, 45), (40, 41)):
        data["thresholds"] = {"mql": mql, "sql": sql}
        moved = config_from_dict(data)
        view = model_view(moved, features)
        assert view.result.auc is not None
        _, scores, expected = _fresh(moved, demo)
        np.testing.assert_array_equal(view.scores.tier, scores.tier)
        assert _json(view.result) == _json(expected)
        assert _json(view.kpis) == _json(kpis(features, scores, auc_value=expected.auc))
    assert len(features.cache["scored_cache"]) == 1  # only thresholds moved: one set of scores


def test_points_move_is_scored_again(demo):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    base = config_from_dict(data)
    with open_source(demo) as source:
        features = extract_features(source, base)
    first = model_view(base, features)
    data["engagement"][0]["points"] = 3
    moved = config_from_dict(data)
    view = model_view(moved, features)
    _, scores, expected = _fresh(moved, demo)
    np.testing.assert_array_equal(view.scores.total, scores.total)
    assert _json(view.result) == _json(expected)
    assert view.result.auc != first.result.auc


def test_memory_for_the_first_points_moves_is_made_ready_and_used(demo):
    """prepare_moves fills the spare pool with arrays shaped as a move writes them (two moves'
    worth: engagement + total and band + tier per move, pos and neg; and one more like neg, which a
    move scored from scratch splits into), no more on a second call; a points move then takes them,
    and its numbers are a fresh computation's."""
    from scoring.model.rescore import prepare_moves

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    base = config_from_dict(data)
    with open_source(demo) as source:
        features = extract_features(source, base)
    view = model_view(base, features)
    pool = features.cache.setdefault("spare_arrays", {})
    pool.clear()
    assert prepare_moves(features, view.scores, *view.sorted_scores) == 13
    per_lead = ((features.n,), np.dtype(np.float64).str)
    assert len(pool[per_lead]) == 4 and all(not a.any() for a in pool[per_lead])
    assert len(pool[(view.sorted_scores[1].shape, np.dtype(np.float64).str)]) == 3
    assert prepare_moves(features, view.scores, *view.sorted_scores) == 0  # full: nothing more kept
    data["engagement"][0]["points"] = float(data["engagement"][0]["points"]) + 3
    moved = config_from_dict(data)
    after = model_view(moved, features)
    assert len(pool[per_lead]) < 4  # the move wrote into them
    _, scores, expected = _fresh(moved, demo)
    np.testing.assert_array_equal(after.scores.total, scores.total)
    assert _json(after.result) == _json(expected)


def test_the_first_points_move_on_a_rule_gathers_into_memory_mapped_ahead(demo, monkeypatch):
    """prepare_gather maps in a matrix as large as the largest a one-rule points move keeps (rules
    moving few enough leads for a delta); the first such move gathers into its front, and the
    matrix holds each lead's activities as the dense arrays give them."""
    from scoring.model import rescore
    from scoring.model.features import rule_signal_key

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    base = config_from_dict(data)
    with open_source(demo) as source:
        features = extract_features(source, base)
    model_view(base, features)
    features.cache.pop("gather_spare", None)
    assert rescore.prepare_gather(base, features) == 0  # 8,000 leads: every matrix is small
    monkeypatch.setattr(rescore, "MOVES_SPLIT_MIN", 0)
    keys = [rule_signal_key(base, r) for r in base.engagement]
    sizes = [features.activity(key).rows.size for key in keys]
    k = len(keys)
    kept = [m for m in sizes if m <= rescore.DELTA_MAX_SHARE * features.n]
    assert 0 < len(kept) < k  # the demo has rules on both sides of the share
    assert rescore.prepare_gather(base, features) == max(kept) * k * 8
    spare = features.cache["gather_spare"]
    i = sizes.index(min(kept))
    data["engagement"][i]["points"] = float(data["engagement"][i]["points"]) + 3
    moved = config_from_dict(data)
    after = model_view(moved, features)
    assert "gather_spare" not in features.cache  # taken, once
    (matrix,) = features.cache["row_major"].values()
    assert np.shares_memory(matrix, spare) and matrix.shape == (sizes[i], k)
    rows = features.activity(keys[i]).rows
    np.testing.assert_array_equal(matrix, np.column_stack([features.activity(key).dense()[rows] for key in keys]))
    _, scores, _ = _fresh(moved, demo)
    np.testing.assert_array_equal(after.scores.total, scores.total)


def test_a_kept_matrix_counts_all_the_memory_it_is_the_front_of():
    """The row-major cache's limit counts the whole spare a gathered matrix was cut from."""
    from scoring.base.memory import mapped_zeros
    from scoring.model.rescore import _held_bytes

    mapped = mapped_zeros((200_000, 10))  # 16 MB: a real mapping
    plain = np.zeros((300, 10))
    assert _held_bytes(mapped[:1_000]) == mapped.nbytes == 16_000_000
    assert _held_bytes(plain[:100]) == plain.nbytes
    assert _held_bytes(np.empty((50, 10))) == 4_000
