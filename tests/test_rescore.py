"""Re-scoring only the leads that moved gives exactly what scoring from scratch gives.

Every check compares the incremental path (``scoring.model.rescore``) with a fresh computation
on freshly extracted features (``engine.score`` + ``report.calibration`` + ``kpis``), and
the AUC / KS of the sorted-array path with scikit-learn and scipy.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from scoring.analysis.calibrate import model_view
from scoring.analysis.report import calibration
from scoring.data.demo import generate
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict
from scoring.model.engine import score
from scoring.model.kpis import kpis
from scoring.model.metrics import separation_sorted
from scoring.model.rescore import full, replace_sorted, scored

from .conftest import DEFAULT_CONFIG


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rescore") / "d.duckdb"
    generate(path, leads=12_000, seed=11)
    with open_source(path) as source:
        features = extract_features(source, _config())
    return path, features


def _config(**edits):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for edit in edits.get("steps", []):
        edit(data)
    return config_from_dict(data)


def _json(x):
    return json.loads(json.dumps(x.to_dict()))


def _fresh(config, db):
    """Everything from scratch: new features (no caches), full scoring, full tables."""
    with open_source(db) as source:
        features = extract_features(source, config)
    scores = score(config, features)
    result = calibration(config, features, scores)
    return scores, result, kpis(features, scores, auc_value=float("nan") if result.auc is None else result.auc)


def _assert_same(view, config, db):
    scores, result, k = _fresh(config, db)
    for name in ("fit", "engagement", "total", "band", "tier"):
        np.testing.assert_array_equal(getattr(view.scores, name), getattr(scores, name), err_msg=name)
    assert _json(view.result) == _json(result)
    assert _json(view.kpis) == _json(k)


# --------------------------------------------------------------------------- sorted arrays


@pytest.mark.parametrize("seed", range(6))
def test_replace_sorted_equals_sorting_the_changed_values(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 20, size=500).astype(float)  # many ties
    take = rng.choice(values.size, size=rng.integers(0, 200), replace=False)
    new = rng.integers(-5, 25, size=take.size).astype(float)
    changed = values.copy()
    changed[take] = new
    got = replace_sorted(np.sort(values), values[take], new)
    np.testing.assert_array_equal(got, np.sort(changed))


@pytest.mark.parametrize("seed", range(8))
def test_replace_sorted_on_two_threads_equals_one_thread(seed):
    """Split at the middle value (ties, a middle value that old or new also hold, NaN at the
    end, everything equal): the two parts merged apart are the one-thread merge."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(seed)
    values = rng.integers(0, [3, 20, 1000, 1, 5, 50, 2, 7][seed], size=2_000).astype(float)
    if seed == 5:
        values[-100:] = np.nan
    take = rng.choice(values.size - 100, size=rng.integers(1, 900), replace=False)  # a NaN is never taken out
    new = rng.integers(-5, 25, size=take.size).astype(float)
    if seed == 6:
        new[:10] = np.median(values)  # new values equal to the split value
    ordered = np.sort(values)
    with ThreadPoolExecutor(1) as pool:
        two = replace_sorted(ordered, values[take], new, submit=pool.submit)
    one = replace_sorted(ordered, values[take], new)
    changed = values.copy()
    changed[take] = new
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(two, np.sort(changed))


def test_ks_hand_example():
    # converted 1, 3; others 2, 4: CDF gaps at 1 (1/2-0), 2 (1/2-1/2), 3 (1-1/2), 4 (1-1)
    assert separation_sorted(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == (0.25, 0.5)


# --------------------------------------------------------------------------- the delta path


def _points(name, value):
    def edit(data):
        next(r for r in data["engagement"] if r["event"] == name)["points"] = value
    return edit


def _cap(name, value):
    def edit(data):
        next(r for r in data["engagement"] if r["event"] == name)["cap"] = value
    return edit


def _fit(column, key, value):
    def edit(data):
        rule = next(r for r in data["fit"] if r["column"] == column)
        if rule["type"] == "numeric":
            rule["bins"][key]["points"] = value
        else:
            rule["points"][key] = value
    return edit


def _thresholds(mql, sql):
    def edit(data):
        data["thresholds"] = {"mql": mql, "sql": sql}
    return edit


MOVES = [
    ("sparse points", [_points("demo_request", 12)], "delta"),
    ("sparse points again", [_points("demo_request", 26.5)], "delta"),
    ("cap", [_points("demo_request", 26.5), _cap("demo_request", 22)], "delta"),
    ("negative rule", [_points("careers_page_view", -4)], "delta"),
    ("category points", [_fit("seniority", "VP", 3)], "delta"),
    ("numeric bin points", [_fit("company_size", 3, 20)], None),
    ("points and thresholds at once", [_points("trial_signup", 9), _thresholds(30, 45)], "delta"),
    ("two rules", [_points("trial_signup", 9), _points("unsubscribe", -30)], "delta"),
    ("dense rule", [_points("email_open", 4)], "full"),
    ("thresholds only", [_points("email_open", 4), _thresholds(25, 70)], "thresholds"),
]


@pytest.mark.parametrize("threads", ["as shipped", "two from any size"])
def test_a_chain_of_moves_matches_scratch_at_every_step(demo, threads, monkeypatch):
    """Every move, incremental or not, equals scoring from scratch with numpy. With
    ``PARALLEL_MIN`` 0 the two-thread sort, AUC/KS, re-tiering, copies and moves of the changed
    leads run on this small demo too, and every sort of scores is the radix sort (through the
    spare half of the partitioned scores), whatever this CPU's numpy."""
    import scoring.model.rescore as rescore
    import scoring.model.sorting as sorting

    db, features = demo
    if threads != "as shipped":
        monkeypatch.setattr(rescore, "PARALLEL_MIN", 0)
        monkeypatch.setattr(rescore, "MOVES_SPLIT_MIN", 0)
        monkeypatch.setattr(sorting, "RADIX_MIN", 2)
        monkeypatch.setattr(sorting, "_CHOICE", [True])
        with open_source(db) as source:  # no kept states from the other run
            features = extract_features(source, _config())
    model_view(_config(), features)  # the meeting starts from the default
    paths = []
    for name, steps, expected_path in MOVES:
        config = _config(steps=steps)
        view = model_view(config, features)
        _assert_same(view, config, db)
        path = scored(config, features).path
        paths.append(path)
        if expected_path is not None:
            assert path in (expected_path, "thresholds" if expected_path == "delta" else expected_path), name
    assert paths.count("delta") >= 4  # the incremental path was really exercised


def test_delta_state_equals_full_state(demo):
    db, features = demo
    base = _config()
    moved = _config(steps=[_points("webinar_attended", 11), _fit("seniority", "Student", -3)])
    model_view(base, features)
    state = scored(moved, features)
    assert state.path == "delta"
    with open_source(db) as source:
        fresh = full(moved, extract_features(source, moved))
    np.testing.assert_array_equal(state.pos, fresh.pos)
    np.testing.assert_array_equal(state.neg, fresh.neg)
    np.testing.assert_array_equal(state.band_counts, fresh.band_counts)
    np.testing.assert_array_equal(state.tier_counts, fresh.tier_counts)
    assert (state.auc, state.ks) == (fresh.auc, fresh.ks)
    mature = features.mature
    assert state.auc == pytest.approx(roc_auc_score(features.converted[mature], state.scores.total[mature]),
                                      abs=1e-12)


def test_kept_arrays_are_read_only(demo):
    _, features = demo
    view = model_view(_config(steps=[_points("demo_request", 7)]), features)
    with pytest.raises(ValueError):
        view.scores.total[0] = 1.0


@pytest.mark.parametrize("seed", range(4))
def test_histogram_from_sorted_classes_equals_numpy_histogram(seed):
    from scoring.model.kpis import _bin_counts

    rng = np.random.default_rng(seed)
    values = np.sort(rng.integers(0, 12, size=300).astype(float))  # values sit on the edges
    edges = np.linspace(values[0], values[-1], 9)
    np.testing.assert_array_equal(_bin_counts(values, edges), np.histogram(values, bins=edges)[0])


def test_page_histogram_uses_the_kept_sorted_scores(demo):
    from scoring.analysis.calibrate import calibration_view
    from scoring.model.kpis import score_histogram

    _, features = demo
    draft = _config(steps=[_points("webinar_attended", 2)])
    view = calibration_view(draft, _config(), features)
    assert view.histogram == score_histogram(view.draft.scores, features)  # computed from the arrays


def test_kept_states_are_bounded_by_bytes_but_keep_the_latest(demo, monkeypatch):
    import scoring.model.rescore as rescore

    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    monkeypatch.setattr(rescore, "SCORED_CACHE_BYTES", 1)
    for value in (3, 4, 5):
        latest = scored(_config(steps=[_points("demo_request", value)]), features)
    assert list(features.cache["scored_cache"].values()) == [latest]
    monkeypatch.setattr(rescore, "SCORED_CACHE_BYTES", 2**40)
    for value in (6, 7, 8, 9):
        model_view(_config(steps=[_points("demo_request", value)]), features)
    assert len(features.cache["scored_cache"]) == rescore.SCORED_CACHE


def test_a_view_still_held_is_never_recycled(demo):
    """Arrays of evicted states are reused only when nothing refers to them any more."""
    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    held = model_view(_config(steps=[_points("demo_request", 2)]), features)
    snapshot = {name: getattr(held.scores, name).copy() for name in ("engagement", "total", "band", "tier")}
    sorted_snapshot = [a.copy() for a in held.sorted_scores]
    for value in range(3, 12):  # evicts the held state several times over
        model_view(_config(steps=[_points("demo_request", value)]), features)
    for name, values in snapshot.items():
        np.testing.assert_array_equal(getattr(held.scores, name), values, err_msg=name)
    for kept, values in zip(held.sorted_scores, sorted_snapshot):
        np.testing.assert_array_equal(kept, values)


def test_evicted_arrays_are_reused_when_free(demo):
    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    for value in range(3, 9):
        model_view(_config(steps=[_points("demo_request", value)]), features)
    spare = features.cache.get("spare_arrays", {})
    assert any(shape == (features.n,) and free for (shape, _), free in spare.items())  # waiting for the next move
    ids = {id(a) for free in spare.values() for a in free}
    state = scored(_config(steps=[_points("demo_request", 40)]), features)
    used = {id(state.scores.total), id(state.scores.engagement), id(state.scores.band), id(state.scores.tier),
            id(state.pos), id(state.neg)}
    assert ids & used  # the next move wrote into recycled arrays
    _assert_same(model_view(_config(steps=[_points("demo_request", 40)]), features),
                 _config(steps=[_points("demo_request", 40)]), db)


def test_a_state_the_page_still_shows_is_recycled_once_it_lets_go(demo, monkeypatch):
    """At 10M leads only the latest state is kept (``SCORED_CACHE_BYTES``), so a state is evicted
    while the page still shows it (the previous view). Its arrays are recycled at a later move,
    once the page has let go; a view still held keeps its values."""
    import scoring.model.rescore as rescore

    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    monkeypatch.setattr(rescore, "SCORED_CACHE_BYTES", 1)  # as at 10M: the latest state only
    made = []
    monkeypatch.setattr(rescore, "mapped_zeros", lambda shape, dtype=np.float64: made.append(shape)
                        or np.zeros(shape, dtype))
    shown = model_view(_config(steps=[_points("demo_request", 2)]), features)
    kept = None
    for value in range(3, 10):  # the page shows one view at a time, replaced after the next is made
        made.clear()
        view = model_view(_config(steps=[_points("demo_request", value)]), features)
        if value in (6, 7, 8):
            assert made == [], f"move to {value} made new arrays: {made}"  # it wrote into recycled ones
        if value == 9:  # the state it would reuse (7's) is still held below: new arrays instead
            assert (features.n,) in made
        if value == 7:
            kept = view  # another page (or tab) holds this one from now on
            kept_total, kept_pos = kept.scores.total.copy(), kept.sorted_scores[0].copy()
        shown = view
    assert shown is view
    np.testing.assert_array_equal(kept.scores.total, kept_total)  # never recycled while held
    np.testing.assert_array_equal(kept.sorted_scores[0], kept_pos)
    _assert_same(model_view(_config(steps=[_points("demo_request", 9)]), features),
                 _config(steps=[_points("demo_request", 9)]), db)


def test_threshold_moves_write_into_the_tiers_of_the_state_they_replace(demo, monkeypatch):
    """A threshold move replaces the kept state of the same rules. The replaced state's tier
    array is recycled (at once, or at the next move once the page shows the new view), so a
    run of threshold moves writes into recycled memory, never into new arrays after the
    first; every move's tiers and KPIs are a fresh computation's, and a view still held
    keeps its tiers."""
    import scoring.model.rescore as rescore

    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    made = []
    monkeypatch.setattr(rescore, "mapped_zeros", lambda shape, dtype=np.float64: made.append(shape)
                        or np.zeros(shape, dtype))
    shown = model_view(_config(), features)
    held = shown  # another tab keeps showing the start
    held_tier = held.scores.tier.copy()
    for i, (mql, sql) in enumerate(((30, 45), (31, 46), (32, 47), (33, 48), (29, 44))):
        made.clear()
        config = _config(steps=[_thresholds(mql, sql)])
        view = model_view(config, features)
        assert scored(config, features).path == "thresholds"
        if i >= 2:
            assert made == [], f"threshold move {i} made new arrays: {made}"
        _assert_same(view, config, db)
        shown = view
    assert shown is view
    np.testing.assert_array_equal(held.scores.tier, held_tier)  # never recycled while held
    assert len(features.cache["scored_cache"]) == 1


def test_a_decay_change_shares_the_leads_work_and_keeps_the_fit_part(demo):
    """Features derived for another decay share the caches; the new decay is scored from
    scratch, reusing the fit part of a kept config with the same fit rules, and still equals
    scoring from scratch on freshly extracted features."""
    from scoring.model.features import derive_features, feature_spec

    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    approved = scored(_config(), features)

    def slower(data):
        data["decay"] = {"kind": "exponential", "half_life_days": 45}

    config = _config(steps=[slower])
    derived = derive_features(features, feature_spec(config))
    assert derived.cache is features.cache
    state = scored(config, derived)
    assert state.path == "full" and state.scores.fit is approved.scores.fit
    assert not np.array_equal(state.scores.engagement, approved.scores.engagement)
    _assert_same(model_view(config, derived), config, db)
    _assert_same(model_view(_config(), features), _config(), db)  # the approved one is still right


def test_rule_points_are_kept_up_to_the_byte_limit_and_none_beyond(demo, monkeypatch):
    import scoring.model.engine as engine

    db, _ = demo
    with open_source(db) as source:
        features = extract_features(source, _config())
    config = _config()
    one = features.n * 8  # one rule's points
    monkeypatch.setattr(engine, "RULE_CACHE_BYTES", 2 * one)
    first, second, third = (engine.rule_points(r, config, features) for r in config.fit[:3])
    assert engine.rule_points(config.fit[2], config, features) is third  # kept
    assert engine.rule_points(config.fit[1], config, features) is second
    assert engine.rule_points(config.fit[0], config, features) is not first  # the oldest went
    np.testing.assert_array_equal(engine.rule_points(config.fit[0], config, features), first)
    monkeypatch.setattr(engine, "RULE_CACHE_BYTES", one - 1)  # 10M leads: one rule is over the limit
    engine.rule_points(config.fit[3], config, features)
    assert len(features.cache["rule_cache"]) == 0


def test_a_kept_config_another_derived_set_cannot_read_is_not_a_starting_point(demo):
    """Sets derived from one base share kept configs; a config whose rule has its own decay
    reads a signal a set derived for another decay does not have (found in review: KeyError)."""
    from scoring.model.features import decay_free_spec, derive_features, feature_spec

    db, _ = demo

    def own_decay(days):
        def edit(data):
            data["engagement"][0]["decay"] = {"kind": "exponential", "half_life_days": days}
        return edit

    first, second = _config(steps=[own_decay(10)]), _config(steps=[own_decay(60)])
    with open_source(db) as source:  # as the app does: one base, one derived set per spec
        base = extract_features(source, decay_free_spec(feature_spec(first)), sum_signals=False)
    a, b = derive_features(base, feature_spec(first)), derive_features(base, feature_spec(second))
    assert a.cache is b.cache
    scored(first, a)
    state = scored(second, b)
    assert state.path == "full"
    _assert_same(model_view(second, b), second, db)
    moved = _config(steps=[own_decay(60), _points("demo_request", 7)])
    assert scored(moved, b).path == "delta"  # from the second, which b can read
    _assert_same(model_view(moved, b), moved, db)


def test_scoring_from_scratch_on_two_threads_equals_one(tmp_path, monkeypatch):
    """Above ``PARALLEL_MIN`` leads the two halves are scored on two threads: same scores,
    counts and sorted totals as one thread and as ``engine.score``."""
    import scoring.model.rescore as rescore
    from scoring.model.kernels import BLOCK

    path = tmp_path / "two.duckdb"
    generate(path, leads=3 * BLOCK, seed=5)  # two halves of one block and a half each
    config = _config(steps=[_points("email_open", 1.5)])
    states = {}
    for name, minimum in (("one", 10**12), ("two", 0)):
        with open_source(path) as source:
            features = extract_features(source, config)
        monkeypatch.setattr(rescore, "PARALLEL_MIN", minimum)
        states[name] = full(config, features)
    one, two = states["one"], states["two"]
    assert features.cache["class_sizes_before"][0] == BLOCK  # the split the two threads used
    for name in ("engagement", "total", "band", "tier"):
        np.testing.assert_array_equal(getattr(two.scores, name), getattr(one.scores, name), err_msg=name)
    for name in ("pos", "neg", "band_counts", "tier_counts"):
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name), err_msg=name)
    assert (two.auc, two.ks) == (one.auc, one.ks)
    _assert_same(model_view(config, features), config, path)


def test_the_sort_split_puts_a_large_tie_on_the_side_that_balances_the_parts():
    from scoring.model.rescore import _pivot

    rng = np.random.default_rng(3)
    spread = rng.normal(size=1000)
    assert _pivot(spread) == np.sort(spread)[500]  # no ties: the median, values below it first
    # 10% below 0, 50% at 0 (leads at the total cap's minimum), 40% above
    capped = np.r_[-rng.random(100) - 0.1, np.zeros(500), rng.random(400) + 0.1]
    pivot = _pivot(capped)
    assert np.count_nonzero(capped < pivot) == 600  # the zeros go with the lower part: 600 / 400, not 100 / 900
    # 40% below, 50% at 0, 10% above: the zeros go up (400 / 600 rather than 900 / 100)
    other = np.r_[-rng.random(400) - 0.1, np.zeros(500), rng.random(100) + 0.1]
    assert np.count_nonzero(other < _pivot(other)) == 400
    assert _pivot(np.array([])) == 0.0


# --------------------------------------------------------------------------- one scoring at a time


def test_two_callers_scoring_the_same_config_at_once_score_it_once(demo, monkeypatch):
    """``rescore.scored``: the second caller waits for the first (the server's start-up hook and the page;
    two tabs) and gets its kept state; the scores are what scoring from scratch gives."""
    import threading

    from scoring.model import rescore

    path, base = demo
    features = base.subset(np.ones(base.n, dtype=bool))  # caches of its own
    config = _config()
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []
    real_full = rescore.full

    def slow_full(cfg, feats, known_parts=None):
        runs.append(1)
        started.set()
        release.wait(10)  # the other caller arrives while this one scores
        return real_full(cfg, feats, known_parts)

    monkeypatch.setattr(rescore, "full", slow_full)
    results: list = []
    first = threading.Thread(target=lambda: results.append(scored(config, features)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(scored(config, features)))
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting, not scoring
    release.set()
    first.join(30)
    second.join(30)
    assert runs == [1] and len(results) == 2 and results[0] is results[1]
    np.testing.assert_array_equal(results[0].scores.total, score(config, features).total)
    assert not features.cache["scoring_now"]  # nothing left behind
