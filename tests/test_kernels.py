"""The compiled loops equal the numpy formulations they replace, and the references."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from scoring.model.kernels import auc_ks
from scoring.model.kernels import merge_replace as _merge_into


def merge_replace(values, old, new):
    return _merge_into(values, old, new, np.empty(values.size - old.size + new.size))


def _numpy_replace(values, old, new):
    """The numpy formulation: drop one occurrence of each old value, insert the new ones."""
    keep = np.ones(values.size, dtype=bool)
    for v in old:  # a plain loop: this is the slow, obvious reference
        hit = np.flatnonzero((values == v) & keep)
        keep[hit[0]] = False
    rest = values[keep]
    return np.sort(np.concatenate([rest, new]))


def _numpy_separation(pos, neg):
    below = np.searchsorted(neg, pos, side="left")
    upto = np.searchsorted(neg, pos, side="right")
    auc = (int(below.sum()) + 0.5 * int((upto - below).sum())) / (pos.size * neg.size)
    grid = np.union1d(pos, neg)
    f_pos = np.searchsorted(pos, grid, side="right") / pos.size
    f_neg = np.searchsorted(neg, grid, side="right") / neg.size
    return auc, float(np.max(np.abs(f_pos - f_neg)))


@pytest.mark.parametrize("seed", range(10))
def test_merge_replace_equals_sorting_the_changed_multiset(seed):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.integers(0, 15, size=int(rng.integers(0, 300))).astype(float))
    old = np.sort(rng.choice(values, size=int(rng.integers(0, values.size + 1)), replace=False)) if values.size else values
    new = np.sort(rng.integers(-3, 18, size=int(rng.integers(0, 100))).astype(float))
    got = merge_replace(values, old, new)
    np.testing.assert_array_equal(got, _numpy_replace(values, old, new))


def test_merge_replace_edges():
    v = np.array([1.0, 2.0, 2.0, 3.0])
    np.testing.assert_array_equal(merge_replace(v, v, np.array([])), np.array([]))  # everything out
    np.testing.assert_array_equal(merge_replace(v, np.array([2.0]), np.array([2.0, 9.0, -1.0])[[2, 0, 1]]),
                                  [-1.0, 1.0, 2.0, 2.0, 3.0, 9.0])
    with pytest.raises(ValueError, match="wrong size"):
        _merge_into(v, np.array([2.0]), np.array([]), np.empty(4))
    for old in (np.array([2.5]), np.array([1.0, 1.0]), np.array([4.0])):  # never written out of bounds
        with pytest.raises(ValueError, match="not in the sorted array"):
            merge_replace(v, old, np.array([]))
        with pytest.raises(ValueError, match="not in the sorted array"):
            merge_replace(v, old, np.array([5.0, 6.0]))


@pytest.mark.parametrize("seed", range(10))
def test_auc_ks_equals_numpy_sklearn_and_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 500))
    y = rng.random(n) < rng.uniform(0.05, 0.7)
    y[0], y[1] = True, False
    s = (rng.integers(0, int(rng.integers(2, 40)), size=n) + 2.5 * y).astype(float)  # many ties
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    auc, ks = auc_ks(pos, neg)
    ref_auc, ref_ks = _numpy_separation(pos, neg)
    assert auc == ref_auc  # same integer counts, same formula: bit for bit
    assert ks == ref_ks
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert ks == pytest.approx(ks_2samp(s[y], s[~y]).statistic, abs=1e-12)


def test_auc_ks_hand_example():
    # converted 1, 3, 3; others 2, 3: pairs (1,2) 0, (1,3) 0, (3,2) 1 twice, (3,3) half twice -> 3/6
    auc, ks = auc_ks(np.array([1.0, 3.0, 3.0]), np.array([2.0, 3.0]))
    assert auc == 0.5
    # CDF gaps at 1: 1/3 - 0; at 2: |1/3 - 1/2|; at 3: 1 - 1
    assert ks == 1 / 3


def _sparse(acts):
    """The activities as the scoring pass takes them: each one's active rows and values."""
    from scoring.model.activity import Activity

    sparse = [Activity.from_dense(a) for a in acts]
    return tuple(a.rows for a in sparse), tuple(a.values for a in sparse)


def _looked_up(acts):
    """The activities as the loops over some leads take them: each one's lookup and values."""
    from scoring.model.activity import Activity

    sparse = [Activity.from_dense(a) for a in acts]
    lookups = [a.lookup() for a in sparse]
    return tuple(x.bits for x in lookups), tuple(x.before for x in lookups), tuple(a.values for a in sparse)


@pytest.mark.parametrize("seed", range(6))
def test_engagement_at_equals_the_rule_by_rule_numpy_sum(seed):
    from scoring.model.kernels import engagement_at

    rng = np.random.default_rng(seed)
    n, k = 400, 5
    acts = [rng.exponential(1.0, n) * (rng.random(n) < 0.4) for _ in range(k)]
    acts[3][:6] = [np.nan, np.inf, -np.inf, 0.0, 2.5, np.nan]  # an activity column with gaps
    acts[4][:] = 0.0  # a rule nobody has activity for
    points = rng.uniform(-20, 20, k)
    caps = np.array([np.inf, 7.5, 3.0, 1e300, np.inf])
    low, high = (-np.inf, 12.0) if seed % 2 else (-5.0, np.inf)
    rows = np.sort(rng.choice(n, 150, replace=False)).astype(np.int64)
    rows[0] = 0  # the lead with every odd value of the column
    rows.sort()
    # numpy on dense arrays, rule by rule, zeros included: what engine.engagement_points + part_sum do
    expected = np.zeros(rows.size)
    for a, p, cap in zip(acts, points, caps):
        x = np.nan_to_num(a[rows], nan=0.0)
        with np.errstate(over="ignore"):  # the largest float times points: inf, then capped
            c = x * p
        if cap != np.inf:
            c = np.minimum(np.maximum(c, -cap), cap)
        expected += c
    expected = np.minimum(np.maximum(expected, low), high)
    with np.errstate(over="ignore"):
        got = engagement_at(rows, *_looked_up(acts), points, caps, low, high)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(4))
def test_gathered_rows_and_engagement_rows_equal_engagement_at(seed):
    from scoring.model.kernels import engagement_at, engagement_rows, gather_rows

    rng = np.random.default_rng(seed)
    n, k = 300, 4
    acts = [rng.exponential(1.0, n) * (rng.random(n) < 0.5) for _ in range(k)]
    acts[1][:3] = [np.nan, np.inf, -np.inf]
    points, caps = rng.uniform(-9, 9, k), np.array([np.inf, 4.0, 2.5, np.inf])
    rows = np.sort(rng.choice(n, 90, replace=False)).astype(np.int64)
    rules = _looked_up(acts)
    matrix = gather_rows(rows, *rules, np.empty((rows.size, k)))
    np.testing.assert_array_equal(matrix, np.column_stack([np.nan_to_num(a[rows], nan=0.0) for a in acts]))
    with np.errstate(over="ignore"):
        expected = engagement_at(rows, *rules, points, caps, -3.0, 11.0)
        got = engagement_rows(matrix, points, caps, -3.0, 11.0)
    np.testing.assert_array_equal(got, expected)


def test_lookups_refuse_unsorted_leads_and_leads_outside_the_activity():
    """Sorted leads read the activities in memory order; a lead past the bitmap would read past it."""
    from scoring.model.kernels import engagement_at, gather_rows

    rules = _looked_up([np.array([0.0, 1.0, 2.0, 0.0])])
    for query, message in ((np.array([2, 1]), "sorted"), (np.array([1, 64]), "outside"), (np.array([-1, 2]), "outside")):
        query = query.astype(np.int64)
        with pytest.raises(ValueError, match=message):
            engagement_at(query, *rules, np.ones(1), np.full(1, np.inf), -np.inf, np.inf)
        with pytest.raises(ValueError, match=message):
            gather_rows(query, *rules, np.empty((2, 1)))


@functools.cache
def _positions():
    """Every lead's ``row_lookup.position`` (compiled once for the parametrised test)."""
    from numba import njit

    from scoring.model.row_lookup import position

    @njit
    def positions(bits, before, n):
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            out[i] = position(bits, before, i)
        return out

    return positions


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 130, 1000])
@pytest.mark.parametrize("density", [0.0, 0.03, 0.5, 1.0])
def test_a_leads_position_in_the_lookup_is_its_index_in_the_rows(n, density):
    """row_lookup.position against numpy's searchsorted, for every lead, at word edges included."""
    from scoring.model.activity import row_dtype
    from scoring.model.row_lookup import build_lookup

    positions = _positions()
    rng = np.random.default_rng(n)
    rows = np.flatnonzero(rng.random(n) < density).astype(row_dtype(n))
    if n and density:
        rows = np.union1d(rows, [n - 1]).astype(row_dtype(n))  # the last lead, in the last word
    lookup = build_lookup(rows, n)
    expected = np.full(n, -1, dtype=np.int64)
    expected[rows] = np.searchsorted(rows, rows)
    np.testing.assert_array_equal(positions(lookup.bits, lookup.before, n), expected)
    assert lookup.bits.size == -(-n // 64) and not lookup.bits.flags.writeable


def test_a_lookup_refuses_rows_outside_its_leads():
    from scoring.model.row_lookup import build_lookup

    with pytest.raises(ValueError, match="0..9"):
        build_lookup(np.array([3, 10], dtype=np.int32), 10)


@pytest.mark.parametrize("seed", range(3))
def test_add_at_is_bincount_added_in_order(seed):
    from scoring.model.kernels import add_at

    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 50, 2_000).astype(np.int32)  # many repeats: the order of additions shows
    weights = rng.exponential(1.0, rows.size) * 10.0 ** rng.integers(-8, 8, rows.size)
    start = rng.normal(size=50)
    got = add_at(start.copy(), rows, weights)
    expected = start.copy()
    for r, w in zip(rows.tolist(), weights.tolist()):  # the plain sequential reference
        expected[r] += w
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(add_at(np.zeros(50), rows, weights), np.bincount(rows, weights, minlength=50))


def test_add_at_refuses_rows_outside_the_output():
    from scoring.model.kernels import add_at

    with pytest.raises(ValueError, match="outside"):
        add_at(np.zeros(3), np.array([0, 3], dtype=np.int32), np.ones(2))
    with pytest.raises(ValueError, match="size"):
        add_at(np.zeros(3), np.array([0], dtype=np.int32), np.ones(2))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_run_sums_equal_add_at_into_zeros_then_the_sparse_form(seed, chunk):
    """Sums per run of sorted rows, chunk by chunk (runs cut at any chunk edge), equal ``add_at`` into
    zeros then ``Activity.from_dense`` bit for bit: sums of 0 and NaN dropped, +-inf as the largest float."""
    from scoring.model.activity import Activity
    from scoring.model.kernels import add_at, run_count, run_sums

    rng = np.random.default_rng(seed)
    n = 60
    rows = np.sort(rng.integers(0, n, 900)).astype(np.int32)
    weights = rng.exponential(1.0, rows.size) * 10.0 ** rng.integers(-8, 8, rows.size)
    weights[rows == 3] = 0.0  # a lead whose events all weigh 0: no entry
    weights[np.flatnonzero(rows == 5)[:1]] = np.nan  # NaN counts as 0
    weights[np.flatnonzero(rows == 7)[:1]] = np.inf
    weights[np.flatnonzero(rows == 9)[:1]] = -np.inf
    expected = Activity.from_dense(add_at(np.zeros(n), rows, weights))
    runs = run_count(rows)
    assert runs == np.unique(rows).size
    out_rows, out_values = np.empty(runs, dtype=np.int32), np.empty(runs)
    k, row, total = 0, -1, 0.0
    for start in range(0, rows.size, chunk):
        stop = min(rows.size, start + chunk)
        k, row, total = run_sums(rows[start:stop], weights[start:stop], n, out_rows, out_values, k, row, total,
                                 stop == rows.size)
    np.testing.assert_array_equal(out_rows[:k], expected.rows)
    np.testing.assert_array_equal(out_values[:k], expected.values)
    kept = set(out_rows[:k].tolist())
    assert 3 not in kept and 5 not in kept and {7, 9} <= kept


def test_run_sums_refuse_unsorted_rows_and_rows_outside_the_leads():
    from scoring.model.kernels import run_sums

    out = np.empty(3, dtype=np.int32), np.empty(3)
    with pytest.raises(ValueError, match="not sorted"):
        run_sums(np.array([2, 1], dtype=np.int32), np.ones(2), 3, *out, 0, -1, 0.0, True)
    with pytest.raises(ValueError, match="outside"):
        run_sums(np.array([0, 3], dtype=np.int32), np.ones(2), 3, *out, 0, -1, 0.0, True)
    with pytest.raises(ValueError, match="size"):
        run_sums(np.array([0], dtype=np.int32), np.ones(2), 3, *out, 0, -1, 0.0, True)


def _scoring_inputs(seed, n=40_000, k=6):
    rng = np.random.default_rng(seed)
    acts = [rng.exponential(2.0, n) * (rng.random(n) < share) for share in np.linspace(0.05, 0.7, k)]
    rule_rows, rule_values = _sparse(acts)
    fit = rng.choice([-5.0, 0.0, 3.0, 7.5, 12.0], n)
    status = rng.choice([0, 1, 2], n, p=[0.2, 0.7, 0.1]).astype(np.int8)
    months = 5
    month_key = ((rng.integers(0, months, n) * 3 + status) * 3).astype(np.int32)
    points, caps = rng.uniform(-4, 9, k), np.array([np.inf, 6.0, 2.0, np.inf, 9.0, 4.0])
    return acts, fit, status, month_key, months, rule_rows, rule_values, points, caps


@pytest.mark.parametrize("seed", range(3))
def test_score_range_equals_numpy_and_two_halves_equal_one_range(seed):
    from scoring.model.kernels import BLOCK, score_range

    acts, fit, status, month_key, months, rule_rows, rule_values, points, caps = _scoring_inputs(seed)
    n = fit.size
    cuts = np.array([0.0, 10.0, 20.0, 30.0])
    bounds = (-2.0, 25.0, -np.inf, 40.0)  # engagement cap, total cap
    mql, sql = 15.0, 28.0
    # numpy on dense arrays, as engine.score does it
    eng = np.zeros(n)
    for a, p, cap in zip(acts, points, caps):
        c = a * p
        eng += np.minimum(np.maximum(c, -cap), cap) if cap != np.inf else c
    eng = np.minimum(np.maximum(eng, bounds[0]), bounds[1])
    total = np.minimum(np.maximum(fit + eng, bounds[2]), bounds[3])
    band = (total[:, None] >= cuts).sum(axis=1)
    tier = (total >= mql).astype(int) + (total >= sql)
    n_pos, n_neg = int((status == 2).sum()), int((status == 1).sum())

    def run(split):
        out = dict(eng=np.empty(n), total=np.empty(n), band=np.empty(n, np.int8), tier=np.empty(n, np.int8),
                   pos=np.empty(n_pos), neg=np.empty(n_neg))
        args = (fit, rule_rows, rule_values, points, caps, *bounds, cuts, mql, sql, status, month_key, months,
                *out.values())
        counts, p, q = None, 0, 0
        for lo, hi in zip([0, *split], [*split, n]):
            bc, tc, p, q = score_range(lo, hi, p, q, *args)
            counts = (bc, tc) if counts is None else (counts[0] + bc, counts[1] + tc)
        assert (p, q) == (n_pos, n_neg)
        return out, counts

    one, (band_counts, tier_counts) = run([])
    np.testing.assert_array_equal(one["eng"], eng)
    np.testing.assert_array_equal(one["total"], total)
    np.testing.assert_array_equal(one["band"], band)
    np.testing.assert_array_equal(one["tier"], tier)
    np.testing.assert_array_equal(one["pos"], total[status == 2])  # in lead order
    np.testing.assert_array_equal(one["neg"], total[status == 1])
    np.testing.assert_array_equal(band_counts.reshape(-1, 3), np.array(
        [[np.sum((band == b) & (status == s)) for s in range(3)] for b in range(cuts.size + 1)]))
    np.testing.assert_array_equal(tier_counts, np.bincount(month_key + tier, minlength=months * 9))
    # two ranges (what the two threads run), split at a block edge and off one
    pos_before = int((status[:BLOCK] == 2).sum())
    for split in ([BLOCK], [777, 2 * BLOCK + 5]):
        parts, counts = run(split)
        for name in one:
            np.testing.assert_array_equal(parts[name], one[name], err_msg=name)
        np.testing.assert_array_equal(counts[0], band_counts)
        np.testing.assert_array_equal(counts[1], tier_counts)
    assert 0 < pos_before < n_pos


def test_score_range_refuses_more_leads_than_the_outputs_hold():
    from scoring.model.kernels import score_range

    acts, fit, status, month_key, months, rule_rows, rule_values, points, caps = _scoring_inputs(0, n=1000)
    n = fit.size
    with pytest.raises(ValueError, match="converted leads"):
        score_range(0, n, 0, 0, fit, rule_rows, rule_values, points, caps, -np.inf, np.inf, -np.inf, np.inf,
                    np.array([1.0]), 1.0, 2.0, status, month_key, months, np.empty(n), np.empty(n),
                    np.empty(n, np.int8), np.empty(n, np.int8), np.empty(3), np.empty(n))


@pytest.mark.parametrize("seed", range(6))
def test_partition_below_then_sorting_the_parts_sorts_the_whole(seed):
    from scoring.model.kernels import partition_below

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 30, rng.integers(0, 400)).astype(float)  # many ties, the pivot among them
    if seed == 5:
        a[::7] = np.nan  # NaN is not below anything: it goes last, as np.sort puts it
    pivot = float(rng.integers(-2, 33))
    out = np.full(a.size, -99.0)
    m = partition_below(a, pivot, out)
    assert m == int(np.count_nonzero(a < pivot))
    assert (out[:m] < pivot).all() and not (out[m:] < pivot).any()
    np.testing.assert_array_equal(np.sort(out[:m]), np.sort(a[a < pivot]))
    out[:m].sort()
    out[m:].sort()
    np.testing.assert_array_equal(out, np.sort(a))  # NaN compare equal here
    with pytest.raises(ValueError, match="wrong size"):
        partition_below(a, pivot, np.empty(a.size + 1))


@pytest.mark.parametrize("seed", range(6))
def test_auc_ks_parts_add_up_to_the_whole(seed):
    from concurrent.futures import ThreadPoolExecutor

    from scoring.model.kernels import auc_ks_part
    from scoring.model.metrics import separation_sorted

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 600))
    y = rng.random(n) < 0.3
    y[:2] = True
    y[2] = False
    s = (rng.integers(0, int(rng.integers(2, 25)), size=n) + 2.0 * y).astype(float)  # many ties
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])  # group starts
    h = int(rng.choice(np.r_[starts, pos.size]))
    a, b = auc_ks_part(pos, neg, 0, h), auc_ks_part(pos, neg, h, pos.size)
    whole = auc_ks_part(pos, neg, 0, pos.size)
    assert (a[0] + b[0], a[1] + b[1], max(a[2], b[2])) == whole
    with ThreadPoolExecutor(1) as pool:
        assert separation_sorted(pos, neg, pool.submit) == separation_sorted(pos, neg) == auc_ks(pos, neg)
    assert auc_ks(pos, neg)[0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    inside = [i for i in range(1, pos.size) if pos[i] == pos[i - 1]]
    if inside:  # splitting a group of ties would count a CDF point that does not exist
        with pytest.raises(ValueError, match="inside a group of tied scores"):
            auc_ks_part(pos, neg, inside[0], pos.size)
        with pytest.raises(ValueError, match="inside a group of tied scores"):
            auc_ks_part(pos, neg, 0, inside[0])
    with pytest.raises(ValueError, match="outside"):
        auc_ks_part(pos, neg, 0, pos.size + 1)


@pytest.mark.parametrize("seed", range(4))
def test_tier_range_equals_numpy_tiers_and_counts(seed):
    from scoring.model.engine import tier_index
    from scoring.model.kernels import tier_range

    rng = np.random.default_rng(seed)
    n, months = int(rng.integers(1, 500)), int(rng.integers(1, 5))
    total = rng.integers(0, 12, n).astype(float)  # ties at the thresholds
    mql, sql = 4.0, float(rng.integers(4, 10))
    key = ((rng.integers(0, months, n) * 3 + rng.integers(0, 3, n)) * 3).astype(np.int32)
    tier = np.full(n, -1, dtype=np.int8)
    h = int(rng.integers(0, n + 1))
    counts = tier_range(0, h, total, mql, sql, key, months, tier) + tier_range(h, n, total, mql, sql, key, months, tier)
    expected = tier_index(total, mql, sql)
    np.testing.assert_array_equal(tier, expected)
    np.testing.assert_array_equal(counts, np.bincount(key + expected, minlength=months * 9))
    assert tier[total == mql].tolist() == [1 if mql < sql else 2] * int(np.sum(total == mql))  # at MQL is MQL


@pytest.mark.parametrize("seed", range(4))
def test_tier_moves_and_grid_cells_equal_numpy_counts(seed):
    from scoring.model.kernels import grid_cells, tier_moves

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    before, after, status = (rng.integers(0, 3, n).astype(np.int8) for _ in range(3))
    np.testing.assert_array_equal(tier_moves(before, after, status),
                                  np.bincount((before.astype(np.intp) * 3 + after) * 3 + status, minlength=27))
    fit, eng = rng.integers(-2, 12, n).astype(float), rng.integers(0, 9, n).astype(float)  # values on the cuts
    fit[::11] = np.nan  # below every cut: the lowest level, as numpy's comparisons give
    fit_level = 2 - (fit >= 3.0).astype(np.int8) - (fit >= 7.0)
    eng_level = 2 - (eng >= 2.0).astype(np.int8) - (eng >= 5.0)
    np.testing.assert_array_equal(grid_cells(fit, eng, 3.0, 7.0, 2.0, 5.0, status),
                                  np.bincount((fit_level * 3 + eng_level) * 3 + status, minlength=27))
    for bad in (np.array([3], dtype=np.int8), np.array([-1], dtype=np.int8)):  # never written out of bounds
        with pytest.raises(ValueError, match="outside 0-2"):
            tier_moves(bad, np.zeros(1, np.int8), np.zeros(1, np.int8))
        with pytest.raises(ValueError, match="outside 0-2"):
            tier_moves(np.zeros(1, np.int8), np.zeros(1, np.int8), bad)
        with pytest.raises(ValueError, match="outside 0-2"):
            grid_cells(np.zeros(1), np.zeros(1), 1.0, 2.0, 1.0, 2.0, bad)


def test_a_nan_score_ends_the_walk_and_gives_no_auc():
    """A NaN equals nothing, so the walk over groups of tied scores must still move on (it
    looped forever); ``separation_sorted`` reports no AUC/KS for scores that have no rank."""
    import threading

    from scoring.model.kernels import auc_ks_part
    from scoring.model.metrics import separation, separation_sorted

    pos, neg = np.array([1.0, 2.0, np.nan, np.nan]), np.array([0.5, 1.5, np.nan])
    result = []
    walker = threading.Thread(target=lambda: result.append(auc_ks_part(pos, neg, 0, pos.size)), daemon=True)
    walker.start()
    walker.join(60)  # the compiled loop releases the GIL: a hang shows up as a live thread
    assert not walker.is_alive() and len(result) == 1
    assert result[0][:2] == (1 + 2 + 2 + 2, 0)  # 1 above 0.5; 2 above both; NaN galloped to the end of the finite ones
    nan_pair = separation_sorted(pos, neg)
    assert np.isnan(nan_pair[0]) and np.isnan(nan_pair[1])
    scores, y = np.array([0.1, np.nan, 0.7, 0.3]), np.array([False, True, True, False])
    assert all(np.isnan(separation(scores, y)))
    assert separation_sorted(pos[:2], neg[:2]) == (0.75, 0.5)  # by hand: pairs (1, .5) (2, .5) (2, 1.5) of 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_part_equals_the_rule_by_rule_numpy_sum_bit_for_bit(seed):
    """engine.fit_part (compiled, no array per rule) against part_sum of engine.fit_points: category
    codes with missing (-1), numbers on bin edges, between bins, outside every bin and NaN."""
    from types import SimpleNamespace

    from scoring.model.config import config_from_dict
    from scoring.model.engine import fit_part, fit_points, part_sum
    from scoring.model.features import Categorical

    rng = np.random.default_rng(seed)
    n = 5_000
    size = rng.choice([0.0, 10.0, 49.999, 50.0, 99.0, 100.0, 250.0, 1e9, -5.0, np.nan], n)
    drawn = rng.random(n) < 0.5
    size[drawn] = rng.uniform(-20, 300, drawn.sum())
    codes = rng.integers(-1, 3, n).astype(np.int16 if seed % 2 else np.int32)
    size[:4], codes[:4] = [100.0, np.nan, 50.0, 10.0], [0, -1, 1, 2]  # worked by hand below
    if seed == 2:
        codes.setflags(write=False)  # memory-mapped from the disk cache
        size.setflags(write=False)
    features = SimpleNamespace(n=n, numeric={"size": size},
                               categorical={c: Categorical(codes=codes, categories=np.array(["VP", "CEO", "Intern"], object))
                                            for c in ("role", "team")})
    config = config_from_dict({"name": "f", "fit": [
        {"type": "categorical", "column": "role", "points": {"VP": 12.5, "CEO": 0.1, "Intern": -7}, "missing": 0.3},
        {"type": "numeric", "column": "size", "bins": [{"max": 10, "points": 1.1}, {"min": 10, "max": 50, "points": 3.3},
                                                        {"min": 100, "max": 250, "points": 7.7}],
         "other": -2.2, "missing": 0.7},
        {"type": "categorical", "column": "team", "points": {"CEO": 0.2}}],
        "caps": {"fit": {"min": -5, "max": 15}}, "thresholds": {"mql": 40, "sql": 60}, "bands": [50]})
    expected = part_sum((fit_points(r, features) for r in config.fit), n, config.caps.fit)
    got = fit_part(config.fit, features, config.caps.fit)
    assert got.tobytes() == expected.tobytes()  # bit for bit
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as second:  # the halves on two threads: the same additions per lead
        halves = fit_part(config.fit, features, config.caps.fit, second.submit)
        assert halves.tobytes() == expected.tobytes()
        odd = SimpleNamespace(n=n - 1, numeric={"size": size[1:]}, categorical={
            c: Categorical(codes=codes[1:], categories=features.categorical[c].categories) for c in ("role", "team")})
        assert fit_part(config.fit, odd, config.caps.fit, second.submit).tobytes() == expected[1:].tobytes()
    # VP in [100, 250): 12.5 + 7.7 + 0 capped at 15; missing role, NaN size: 0.3 + 0.7 + 0;
    # CEO at 50 (between bins: other): 0.1 - 2.2 + 0.2; Intern at 10 (the bin [10, 50)): -7 + 3.3 + 0
    assert got[:4] == pytest.approx([15.0, 1.0, -1.9, -3.7], abs=1e-12)
