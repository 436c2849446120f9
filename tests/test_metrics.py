"""Tests for scoring.model.metrics (and the band / tier assignment in scoring.model.engine).

Every statistic is checked against an independent computation: scikit-learn, scipy,
or a hand-worked example whose arithmetic is written out in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from scoring.model.engine import TIERS, band_index, tier_index
from scoring.model.metrics import (
    SMALL_BAND,
    Z95,
    auc,
    band_bounds,
    band_label,
    band_table,
    gini,
    ks_statistic,
    tier_table,
    wilson_interval,
)

SEEDS = range(8)


def _random_leads(seed: int, n: int, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores with some signal; integer scores give many ties."""
    rng = np.random.default_rng(seed)
    if integer:
        scores = rng.integers(0, 12, size=n).astype(np.float64)
        p = 0.05 + 0.06 * scores  # 0.05 .. 0.71: informative but noisy
    else:
        scores = rng.normal(50, 15, size=n)
        p = 1 / (1 + np.exp(-(scores - 55) / 8))
    y = rng.random(n) < p
    # both classes must be present for the comparison to mean anything
    y[0], y[1] = True, False
    return scores, y


def _wilson_reference(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson interval written in its other algebraic form (not the one in metrics.py):

        (k + z^2/2  -/+  z * sqrt(k (n - k) / n + z^2 / 4)) / (n + z^2)
    """
    z2 = z * z
    centre = k + z2 / 2
    half = z * math.sqrt(k * (n - k) / n + z2 / 4)
    return max(0.0, (centre - half) / (n + z2)), min(1.0, (centre + half) / (n + z2))


# --------------------------------------------------------------------------- AUC / Gini


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_matches_sklearn_with_many_ties(seed):
    scores, y = _random_leads(seed, 500 + 150 * seed, integer=True)
    assert len(np.unique(scores)) <= 12  # hundreds of leads on 12 values: ties everywhere
    assert auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_matches_sklearn_on_continuous_scores(seed):
    scores, y = _random_leads(seed, 400 + 100 * seed, integer=False)
    assert auc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_auc_accepts_int_labels_like_bool_labels():
    scores, y = _random_leads(3, 300, integer=True)
    expected = roc_auc_score(y, scores)
    assert auc(scores, y.astype(int)) == pytest.approx(expected, abs=1e-12)
    assert auc(scores, y.astype(np.float64)) == pytest.approx(expected, abs=1e-12)


def test_auc_hand_example_ties_counted_half():
    # scores [1, 2, 2, 3], y [0, 0, 1, 1]
    # positives: 2, 3   negatives: 1, 2   -> 2 x 2 = 4 pairs
    #   (pos 2, neg 1) win  1
    #   (pos 2, neg 2) tie  0.5
    #   (pos 3, neg 1) win  1
    #   (pos 3, neg 2) win  1
    # AUC = 3.5 / 4 = 0.875
    scores = np.array([1, 2, 2, 3])
    y = np.array([0, 0, 1, 1], dtype=bool)
    assert auc(scores, y) == pytest.approx(0.875)
    assert roc_auc_score(y, scores) == pytest.approx(0.875)  # the hand value is sklearn's too
    # order of the input does not matter
    perm = np.array([3, 1, 0, 2])
    assert auc(scores[perm], y[perm]) == pytest.approx(0.875)


def test_auc_second_hand_example_with_tie_across_several_leads():
    # scores [5, 5, 5, 1, 9], y [1, 0, 0, 0, 1]
    # positives: 5, 9   negatives: 5, 5, 1   -> 6 pairs
    #   pos 5: vs 5 tie 0.5, vs 5 tie 0.5, vs 1 win 1  -> 2
    #   pos 9: wins all three                          -> 3
    # AUC = 5 / 6
    scores = np.array([5.0, 5.0, 5.0, 1.0, 9.0])
    y = np.array([1, 0, 0, 0, 1], dtype=bool)
    assert auc(scores, y) == pytest.approx(5 / 6)


def test_auc_perfect_inverse_and_all_tied():
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
    assert auc(scores, y) == 1.0
    assert auc(scores, ~y) == 0.0
    assert auc(-scores, y) == 0.0
    # every pair a tie -> 0.5
    assert auc(np.full(6, 7.0), y) == pytest.approx(0.5)


@pytest.mark.parametrize("y", [np.ones(5, dtype=bool), np.zeros(5, dtype=bool)])
def test_auc_and_ks_nan_with_one_class(y):
    scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert math.isnan(auc(scores, y))
    assert math.isnan(ks_statistic(scores, y))


def test_auc_nan_on_empty_input():
    assert math.isnan(auc(np.array([]), np.array([], dtype=bool)))


@pytest.mark.parametrize("seed", SEEDS)
def test_gini_is_two_auc_minus_one_vs_sklearn(seed):
    scores, y = _random_leads(seed, 600, integer=seed % 2 == 0)
    expected = 2 * roc_auc_score(y, scores) - 1
    assert gini(auc(scores, y)) == pytest.approx(expected, abs=1e-12)


def test_gini_hand_values():
    # perfect ranking: 2*1 - 1 = 1; inverse: 2*0 - 1 = -1; random: 2*0.5 - 1 = 0
    # hand example above: 2*0.875 - 1 = 0.75
    assert gini(1.0) == 1.0
    assert gini(0.0) == -1.0
    assert gini(0.5) == 0.0
    assert gini(0.875) == pytest.approx(0.75)
    assert math.isnan(gini(float("nan")))


# --------------------------------------------------------------------------- KS


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_matches_scipy_with_ties(seed):
    scores, y = _random_leads(seed, 500 + 100 * seed, integer=True)
    expected = stats.ks_2samp(scores[y], scores[~y]).statistic
    assert ks_statistic(scores, y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_matches_scipy_without_ties(seed):
    scores, y = _random_leads(seed, 500 + 100 * seed, integer=False)
    assert len(np.unique(scores)) == len(scores)
    expected = stats.ks_2samp(scores[y], scores[~y]).statistic
    assert ks_statistic(scores, y) == pytest.approx(expected, abs=1e-12)


def test_ks_hand_example_with_ties():
    # scores [1, 2, 2, 3], y [0, 0, 1, 1]; positives {2, 3}, negatives {1, 2}
    #   at 1: F_pos = 0/2, F_neg = 1/2 -> gap 0.5
    #   at 2: F_pos = 1/2, F_neg = 2/2 -> gap 0.5
    #   at 3: F_pos = 2/2, F_neg = 2/2 -> gap 0
    # KS = 0.5
    scores = np.array([1, 2, 2, 3])
    y = np.array([0, 0, 1, 1], dtype=bool)
    assert ks_statistic(scores, y) == pytest.approx(0.5)


def test_ks_hand_example_without_ties():
    # positives {3, 4, 5}, negatives {1, 2, 6}
    #   at 1: 0/3 vs 1/3 -> 1/3
    #   at 2: 0/3 vs 2/3 -> 2/3   <- max
    #   at 3: 1/3 vs 2/3 -> 1/3
    #   at 4: 2/3 vs 2/3 -> 0
    #   at 5: 3/3 vs 2/3 -> 1/3
    #   at 6: 3/3 vs 3/3 -> 0
    # KS = 2/3
    scores = np.array([6.0, 1.0, 3.0, 2.0, 5.0, 4.0])
    y = np.array([0, 0, 1, 0, 1, 1], dtype=bool)
    assert ks_statistic(scores, y) == pytest.approx(2 / 3)
    # perfect separation -> 1; the sign of the gap does not matter (inverse -> 1 too)
    perfect = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
    ordered = np.arange(6, dtype=np.float64)
    assert ks_statistic(ordered, perfect) == pytest.approx(1.0)
    assert ks_statistic(ordered, ~perfect) == pytest.approx(1.0)
    # all scores equal -> distributions identical -> 0
    assert ks_statistic(np.full(6, 3.0), perfect) == pytest.approx(0.0)


# --------------------------------------------------------------------------- Wilson


def test_z95_is_the_normal_975_quantile():
    assert Z95 == pytest.approx(stats.norm.ppf(0.975), abs=1e-12)


@pytest.mark.parametrize(
    "k, n, low, high",
    [
        # Wilson, z = 1.959964, z^2 = 3.841459:
        # 5/10:  (5 + 1.920729 -/+ 1.959964 * sqrt(5*5/10 + 0.960365)) / 13.841459
        #      = (6.920729 -/+ 1.959964 * 1.860206) / 13.841459
        #      = (6.920729 -/+ 3.645928) / 13.841459 = 0.236593 .. 0.763407
        (5, 10, 0.236593, 0.763407),
        # 0/20:  (0 + 1.920729 -/+ 1.959964 * sqrt(0 + 0.960365)) / 23.841459
        #      = (1.920729 -/+ 1.920729) / 23.841459 = 0 .. 0.161125
        (0, 20, 0.0, 0.161125),
        # 20/20: mirror image of 0/20 -> 1 - 0.161125 = 0.838875 .. 1
        (20, 20, 0.838875, 1.0),
        # 1/1000: (1 + 1.920729 -/+ 1.959964 * sqrt(1*999/1000 + 0.960365)) / 1003.841459
        #       = (2.920729 -/+ 1.959964 * 1.399773) / 1003.841459
        #       = (2.920729 -/+ 2.743505) / 1003.841459 = 0.000177 .. 0.005643
        (1, 1000, 0.000177, 0.005643),
    ],
)
def test_wilson_hand_values(k, n, low, high):
    ref_low, ref_high = _wilson_reference(k, n)
    got_low, got_high = wilson_interval(k, n)
    # the numbers in the table above, worked by hand to 6 decimals
    assert float(got_low) == pytest.approx(low, abs=1e-6)
    assert float(got_high) == pytest.approx(high, abs=1e-6)
    # and the independent formula in full precision
    assert float(got_low) == pytest.approx(ref_low, abs=1e-12)
    assert float(got_high) == pytest.approx(ref_high, abs=1e-12)
    # and scipy's own Wilson interval
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert float(got_low) == pytest.approx(ci.low, abs=1e-9)
    assert float(got_high) == pytest.approx(ci.high, abs=1e-9)


def test_wilson_matches_scipy_on_a_grid():
    ks, ns = [], []
    for n in (1, 2, 3, 7, 29, 30, 100, 1234):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ks.append(k)
            ns.append(n)
    low, high = wilson_interval(np.array(ks), np.array(ns))
    for i, (k, n) in enumerate(zip(ks, ns)):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert low[i] == pytest.approx(ci.low, abs=1e-9), (k, n)
        assert high[i] == pytest.approx(ci.high, abs=1e-9), (k, n)
        # the interval holds the observed rate (exactness at k = 0 / k = n is tested below)
        assert 0.0 <= low[i] <= k / n + 1e-12
        assert k / n - 1e-12 <= high[i] <= 1.0


@pytest.mark.parametrize("k, n", [(0, 3), (0, 6), (0, 7), (10, 10), (13, 13), (25, 25)])
def test_wilson_interval_contains_rate_exactly_at_zero_and_all_successes(k, n):
    # Algebraically, with k = 0:  centre = half = (z^2 / 2n) / (1 + z^2/n), so low = 0;
    # with k = n:  centre + half = (1 + z^2/n) / (1 + z^2/n) = 1, so high = 1.
    # scipy agrees exactly (0.0 / 1.0). The observed rate (0 or 1) must lie inside the
    # interval, and a band with 0 conversions must not show a lower bound above 0.
    low, high = wilson_interval(k, n)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    if k == 0:
        assert ci.low == 0.0
        assert float(low) <= 0.0, f"{k}/{n}: ci_low = {float(low)!r} > rate 0"
    else:
        assert ci.high == 1.0
        assert float(high) >= 1.0, f"{k}/{n}: ci_high = {float(high)!r} < rate 1"


def test_wilson_other_confidence_level_via_z():
    z90 = stats.norm.ppf(0.95)
    low, high = wilson_interval(7, 40, z=z90)
    ci = stats.binomtest(7, 40).proportion_ci(confidence_level=0.90, method="wilson")
    assert float(low) == pytest.approx(ci.low, abs=1e-9)
    assert float(high) == pytest.approx(ci.high, abs=1e-9)
    # a narrower level gives a narrower interval than the 95% one
    low95, high95 = wilson_interval(7, 40)
    assert low95 < low < high < high95


def test_wilson_nan_for_no_trials():
    low, high = wilson_interval(0, 0)
    assert math.isnan(float(low)) and math.isnan(float(high))


def test_wilson_vectorised_with_a_zero_trial_entry():
    k = np.array([5, 0, 0, 20, 1])
    n = np.array([10, 0, 20, 20, 1000])
    low, high = wilson_interval(k, n)
    assert low.shape == high.shape == (5,)
    assert math.isnan(low[1]) and math.isnan(high[1])
    for i in (0, 2, 3, 4):
        ref_low, ref_high = _wilson_reference(int(k[i]), int(n[i]))
        assert low[i] == pytest.approx(ref_low, abs=1e-12)
        assert high[i] == pytest.approx(ref_high, abs=1e-12)
    # element-wise equal to the scalar calls
    for i in range(5):
        s_low, s_high = wilson_interval(int(k[i]), int(n[i]))
        np.testing.assert_equal([low[i], high[i]], [float(s_low), float(s_high)])


# --------------------------------------------------------------------------- band / tier index


def test_band_index_edges():
    cuts = [10, 20]
    total = np.array([-5.0, 0.0, 9.999, 10.0, 10.5, 19.999, 20.0, 100.0])
    # below 10 -> 0; exactly 10 -> upper band 1; [10, 20) -> 1; exactly 20 -> 2
    expected = [0, 0, 0, 1, 1, 1, 2, 2]
    np.testing.assert_array_equal(band_index(total, cuts), expected)


def test_band_index_without_cuts_is_one_band():
    np.testing.assert_array_equal(band_index(np.array([-1.0, 0.0, 50.0]), []), [0, 0, 0])


def test_tier_index_edges():
    mql, sql = 50.0, 80.0
    total = np.array([0.0, 49.999, 50.0, 79.999, 80.0, 100.0])
    # below MQL -> 0; exactly MQL -> MQL (1); exactly SQL -> SQL (2)
    np.testing.assert_array_equal(tier_index(total, mql, sql), [0, 0, 1, 1, 2, 2])
    assert TIERS == ("below_mql", "mql", "sql")


def test_tier_index_per_lead_thresholds():
    # segments give every lead its own thresholds
    total = np.array([40.0, 40.0, 70.0, 70.0])
    mql = np.array([30.0, 50.0, 30.0, 50.0])
    sql = np.array([60.0, 80.0, 70.0, 80.0])
    # 40 >= 30, < 60 -> 1 | 40 < 50 -> 0 | 70 >= 70 -> 2 | 70 >= 50, < 80 -> 1
    np.testing.assert_array_equal(tier_index(total, mql, sql), [1, 0, 2, 1])


# --------------------------------------------------------------------------- band table

# Hand example: cuts [10, 20] -> bands  0: < 10   1: [10, 20)   2: >= 20
#
#  lead  total  converted  mature   band
#   1     3.0     no        yes      0
#   2     5.0     no        yes      0
#   3     9.99    yes       yes      0
#   4     7.0     yes       NO       0   converted but immature: not a conversion
#   5    10.0     yes       yes      1   exactly on the cut -> upper band
#   6    12.0     no        yes      1
#   7    15.0     no        yes      1
#   8    20.0     yes       yes      2   exactly on the cut -> upper band
#   9    25.0     yes       yes      2
#  10    30.0     no        yes      2
#  11    40.0     yes       yes      2
#  12    50.0     no        NO       2
#  13    60.0     yes       NO       2   converted but immature
HAND_TOTAL = np.array([3.0, 5.0, 9.99, 7.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0])
HAND_CONV = np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1], dtype=bool)
HAND_MATURE = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0], dtype=bool)
HAND_BAND = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2])
HAND_CUTS = [10, 20]


def _hand_table(**bounds):
    band = band_index(HAND_TOTAL, HAND_CUTS)
    np.testing.assert_array_equal(band, HAND_BAND)
    return band_table(HAND_TOTAL, band, HAND_CONV, HAND_MATURE, HAND_CUTS, **bounds)


def test_band_table_hand_example_counts_and_rates():
    rows = _hand_table()
    assert len(rows) == 3
    # mature leads per band:    0: leads 1,2,3 = 3   1: leads 5,6,7 = 3   2: leads 8-11 = 4
    # mature conversions:       0: lead 3 = 1        1: lead 5 = 1        2: 8,9,11 = 3
    # immature:                 0: lead 4 = 1        1: none = 0          2: 12,13 = 2
    assert [r.leads for r in rows] == [3, 3, 4]
    assert [r.conversions for r in rows] == [1, 1, 3]
    assert [r.immature for r in rows] == [1, 0, 2]
    # rate = conversions / mature leads: 1/3, 1/3, 3/4
    assert [r.rate for r in rows] == pytest.approx([1 / 3, 1 / 3, 3 / 4])
    # overall mature rate = (1 + 1 + 3) / (3 + 3 + 4) = 5/10 = 0.5
    # lift = rate / 0.5: (1/3)/0.5 = 2/3, 2/3, (3/4)/0.5 = 1.5
    assert [r.lift for r in rows] == pytest.approx([2 / 3, 2 / 3, 1.5])
    # share = band mature leads / 10: 0.3, 0.3, 0.4
    assert [r.share for r in rows] == pytest.approx([0.3, 0.3, 0.4])
    # capture = conversions at or above the band / 5:
    #   band 2: 3/5 = 0.6   band 1: (3+1)/5 = 0.8   band 0: (3+1+1)/5 = 1.0
    assert [r.capture for r in rows] == pytest.approx([1.0, 0.8, 0.6])
    # every band has < 30 mature leads
    assert [r.small for r in rows] == [True, True, True]


def test_band_table_hand_example_confidence_intervals():
    rows = _hand_table()
    # Wilson 95% (z^2 = 3.841459), other algebraic form:
    # 1/3: (1 + 1.920729 -/+ 1.959964 * sqrt(1*2/3 + 0.960365)) / 6.841459
    #    = (2.920729 -/+ 1.959964 * 1.275291) / 6.841459
    #    = (2.920729 -/+ 2.499524) / 6.841459 = 0.061566 .. 0.792410 (to ~4 dp: 0.0615, 0.7923)
    # 3/4: (3 + 1.920729 -/+ 1.959964 * sqrt(3*1/4 + 0.960365)) / 7.841459
    #    = (4.920729 -/+ 1.959964 * 1.307809) / 7.841459
    #    = (4.920729 -/+ 2.563258) / 7.841459 = 0.300642 .. 0.954413
    expected = [(0.0615, 0.7923), (0.0615, 0.7923), (0.3006, 0.9544)]
    for row, (lo, hi), (k, n) in zip(rows, expected, [(1, 3), (1, 3), (3, 4)]):
        assert row.ci_low == pytest.approx(lo, abs=1e-4)
        assert row.ci_high == pytest.approx(hi, abs=1e-4)
        ref_low, ref_high = _wilson_reference(k, n)
        assert row.ci_low == pytest.approx(ref_low, abs=1e-12)
        assert row.ci_high == pytest.approx(ref_high, abs=1e-12)
        assert row.ci_low < row.rate < row.ci_high


def test_band_table_labels_and_bounds_open_ended():
    rows = _hand_table()
    assert [(r.low, r.high) for r in rows] == [(None, 10), (10, 20), (20, None)]
    assert [r.band for r in rows] == ["< 10", "10–20", ">= 20"]


def test_band_table_labels_and_bounds_given():
    rows = _hand_table(low=0, high=100)
    assert [(r.low, r.high) for r in rows] == [(0, 10), (10, 20), (20, 100)]
    assert [r.band for r in rows] == ["0–10", "10–20", "20–100"]
    # the bounds change labels only, not the numbers
    assert [r.leads for r in rows] == [3, 3, 4]


def test_band_bounds_and_label_directly():
    assert band_bounds([10, 20], None, None) == [(None, 10), (10, 20), (20, None)]
    assert band_bounds([10.5], 0, 100) == [(0, 10.5), (10.5, 100)]
    assert band_label(None, 10) == "< 10"
    assert band_label(2.5, None) == ">= 2.5"
    assert band_label(10, 20.5) == "10–20.5"
    # integral floats print without a trailing .0
    assert band_label(10.0, 20.0) == "10–20"


def test_converted_but_immature_is_not_a_conversion():
    rows = _hand_table()
    # 7 leads are flagged converted (3, 4, 5, 8, 9, 11, 13) but 4 and 13 are immature,
    # so only 5 count
    assert int(HAND_CONV.sum()) == 7
    assert sum(r.conversions for r in rows) == 5
    # making lead 4 mature adds one lead and one conversion to band 0 (2/4)
    mature = HAND_MATURE.copy()
    mature[3] = True
    rows2 = band_table(HAND_TOTAL, HAND_BAND, HAND_CONV, mature, HAND_CUTS)
    assert (rows2[0].leads, rows2[0].conversions, rows2[0].immature) == (4, 2, 0)
    assert rows2[0].rate == pytest.approx(0.5)


def test_band_table_empty_band_and_band_with_only_immature_leads():
    # cuts [10, 20, 30] -> bands <10, [10,20), [20,30), >=30
    #  total  conv  mature  band
    #   5     yes   yes     0
    #   6     no    yes     0
    #   8     no    yes     0
    #  15     yes   NO      1   band 1 holds only an immature lead
    #  35     yes   yes     3
    #  40     no    yes     3
    # band 2 [20, 30) is empty
    total = np.array([5.0, 6.0, 8.0, 15.0, 35.0, 40.0])
    conv = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    mature = np.array([1, 1, 1, 0, 1, 1], dtype=bool)
    cuts = [10, 20, 30]
    band = band_index(total, cuts)
    np.testing.assert_array_equal(band, [0, 0, 0, 1, 3, 3])
    rows = band_table(total, band, conv, mature, cuts)
    assert [r.leads for r in rows] == [3, 0, 0, 2]
    assert [r.conversions for r in rows] == [1, 0, 0, 1]
    assert [r.immature for r in rows] == [0, 1, 0, 0]
    for empty in (rows[1], rows[2]):
        assert empty.rate is None
        assert empty.ci_low is None and empty.ci_high is None
        assert empty.lift is None
        assert empty.share == 0.0
        assert empty.small is True
    # overall = 2/5 = 0.4; band 0 rate 1/3 -> lift (1/3)/0.4 = 5/6; band 3 rate 1/2 -> 1.25
    assert rows[0].lift == pytest.approx(5 / 6)
    assert rows[3].lift == pytest.approx(1.25)
    # capture from the top: band 3: 1/2; band 2: 1/2; band 1: 1/2; band 0: 2/2
    assert [r.capture for r in rows] == pytest.approx([1.0, 0.5, 0.5, 0.5])
    # share: 3/5, 0, 0, 2/5
    assert [r.share for r in rows] == pytest.approx([0.6, 0.0, 0.0, 0.4])


def test_band_table_small_flag_threshold_counts_mature_leads_only():
    assert SMALL_BAND == 30
    # band 0: 29 mature + 5 immature (34 leads, but only 29 mature) -> small
    # band 1: exactly 30 mature                                     -> not small
    total = np.array([5.0] * 34 + [15.0] * 30)
    mature = np.array([True] * 29 + [False] * 5 + [True] * 30)
    conv = np.zeros(64, dtype=bool)
    conv[[0, 1, 40]] = True  # 2 conversions in band 0, 1 in band 1
    band = band_index(total, [10])
    rows = band_table(total, band, conv, mature, [10])
    assert [r.leads for r in rows] == [29, 30]
    assert [r.immature for r in rows] == [5, 0]
    assert [r.small for r in rows] == [True, False]
    # rates 2/29 and 1/30; overall 3/59
    assert rows[0].rate == pytest.approx(2 / 29)
    assert rows[1].rate == pytest.approx(1 / 30)
    assert rows[0].lift == pytest.approx((2 / 29) / (3 / 59))


def test_band_table_no_mature_conversions():
    # every mature lead lost: rates are 0, lift and capture undefined (None)
    total = np.array([5.0, 15.0, 25.0, 25.0])
    conv = np.array([0, 0, 0, 1], dtype=bool)
    mature = np.array([1, 1, 1, 0], dtype=bool)
    rows = band_table(total, band_index(total, [10, 20]), conv, mature, [10, 20])
    assert [r.rate for r in rows] == [0.0, 0.0, 0.0]
    assert [r.lift for r in rows] == [None, None, None]
    assert [r.capture for r in rows] == [None, None, None]
    assert [r.share for r in rows] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # Wilson for 0/1: (0 + 1.920729 +/- 1.920729) / 4.841459 -> 0 .. 0.793451
    assert rows[0].ci_low == pytest.approx(0.0, abs=1e-12)
    assert rows[0].ci_high == pytest.approx(0.793451, abs=1e-6)


def test_band_table_no_mature_leads_at_all():
    total = np.array([5.0, 15.0])
    conv = np.array([1, 0], dtype=bool)
    mature = np.zeros(2, dtype=bool)
    rows = band_table(total, band_index(total, [10]), conv, mature, [10])
    assert [r.leads for r in rows] == [0, 0]
    assert [r.immature for r in rows] == [1, 1]
    for r in rows:
        assert r.conversions == 0
        for key in ("rate", "ci_low", "ci_high", "lift", "share", "capture"):
            assert getattr(r, key) is None, key


def test_band_table_zero_conversion_band_ci_low_not_above_rate():
    # band 0: 3 mature leads, 0 conversions -> rate 0; Wilson for 0/3:
    #   (0 + 1.920729 -/+ 1.959964 * sqrt(0 + 0.960365)) / 6.841459 = 0 .. 0.561497
    # band 1: 10 mature leads, all converted -> rate 1; Wilson for 10/10: 0.722467 .. 1
    total = np.array([1.0, 2.0, 3.0] + [15.0] * 10)
    conv = np.array([False] * 3 + [True] * 10)
    mature = np.ones(13, dtype=bool)
    rows = band_table(total, band_index(total, [10]), conv, mature, [10])
    assert rows[0].rate == 0.0
    assert rows[0].ci_high == pytest.approx(0.561497, abs=1e-6)
    assert rows[0].ci_low <= rows[0].rate, rows[0].ci_low
    assert rows[1].rate == 1.0
    assert rows[1].ci_low == pytest.approx(0.722467, abs=1e-6)
    assert rows[1].ci_high >= rows[1].rate, rows[1].ci_high


@pytest.mark.parametrize("seed", range(3))
def test_band_table_random_against_direct_counts(seed):
    # cross-check the vectorised table with a plain per-band count on random data
    rng = np.random.default_rng(seed)
    n = 2000
    total = rng.integers(0, 100, size=n).astype(np.float64)
    mature = rng.random(n) < 0.8
    conv = rng.random(n) < total / 150
    cuts = [20, 40, 60, 80]
    band = band_index(total, cuts)
    rows = band_table(total, band, conv, mature, cuts, low=0, high=100)
    all_conv = np.sum(conv & mature)
    all_leads = np.sum(mature)
    edges = [-np.inf] + cuts + [np.inf]
    for i, row in enumerate(rows):
        in_band = (total >= edges[i]) & (total < edges[i + 1])
        leads = np.sum(in_band & mature)
        convs = np.sum(in_band & mature & conv)
        above = np.sum((total >= edges[i]) & mature & conv)
        assert row.leads == leads
        assert row.conversions == convs
        assert row.immature == np.sum(in_band & ~mature)
        assert row.rate == pytest.approx(convs / leads)
        assert row.lift == pytest.approx((convs / leads) / (all_conv / all_leads))
        assert row.share == pytest.approx(leads / all_leads)
        assert row.capture == pytest.approx(above / all_conv)
        ci = stats.binomtest(int(convs), int(leads)).proportion_ci(method="wilson")
        assert row.ci_low == pytest.approx(ci.low, abs=1e-9)
        assert row.ci_high == pytest.approx(ci.high, abs=1e-9)
    assert sum(r.share for r in rows) == pytest.approx(1.0)


# --------------------------------------------------------------------------- tier table


def test_tier_table_hand_example():
    # MQL 50, SQL 80
    #  total  conv  mature  tier
    #   10    no    yes     below_mql
    #   49.9  yes   yes     below_mql
    #   30    yes   NO      below_mql  (immature, converted: not a conversion)
    #   50    yes   yes     mql        exactly at MQL
    #   60    no    yes     mql
    #   70    no    yes     mql
    #   79.9  no    NO      mql        immature
    #   80    yes   yes     sql        exactly at SQL
    #   95    yes   yes     sql
    #   99    no    NO      sql        immature
    #   99    yes   NO      sql        immature, converted
    total = np.array([10.0, 49.9, 30.0, 50.0, 60.0, 70.0, 79.9, 80.0, 95.0, 99.0, 99.0])
    conv = np.array([0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1], dtype=bool)
    mature = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0], dtype=bool)
    tier = tier_index(total, 50.0, 80.0)
    np.testing.assert_array_equal(tier, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    table = tier_table(tier, conv, mature)
    assert [name for name, _ in table.rows()] == ["below_mql", "mql", "sql"]
    # below_mql: mature 10, 49.9 -> 2 leads, 1 conversion, rate 1/2, immature 1 (30)
    # mql:       mature 50, 60, 70 -> 3 leads, 1 conversion, rate 1/3, immature 1 (79.9)
    # sql:       mature 80, 95 -> 2 leads, 2 conversions, rate 1, immature 2 (both 99s)
    assert table.below_mql.to_dict() == {"leads": 2, "conversions": 1, "rate": pytest.approx(0.5), "immature": 1}
    assert table.mql.to_dict() == {"leads": 3, "conversions": 1, "rate": pytest.approx(1 / 3), "immature": 1}
    assert table.sql.to_dict() == {"leads": 2, "conversions": 2, "rate": pytest.approx(1.0), "immature": 2}


def test_tier_table_empty_tier_has_no_rate():
    # nobody reaches SQL; the MQL tier holds only an immature lead
    total = np.array([10.0, 20.0, 55.0])
    conv = np.array([1, 0, 1], dtype=bool)
    mature = np.array([1, 1, 0], dtype=bool)
    table = tier_table(tier_index(total, 50.0, 80.0), conv, mature)
    assert table.below_mql.to_dict() == {"leads": 2, "conversions": 1, "rate": pytest.approx(0.5), "immature": 0}
    assert table.mql.to_dict() == {"leads": 0, "conversions": 0, "rate": None, "immature": 1}
    assert table.sql.to_dict() == {"leads": 0, "conversions": 0, "rate": None, "immature": 0}
