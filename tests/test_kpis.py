"""Tests for scoring.model.kpis and scoring.analysis.calibrate.

Every number is checked against an independent computation: a hand-worked example
with the arithmetic in the comments, pandas (groupby / crosstab), numpy done another
way, scikit-learn for AUC or scipy for Wilson intervals.
"""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from sklearn.metrics import roc_auc_score

from scoring.analysis.calibrate import ModelView, calibration_view, model_view, warnings_for
from scoring.analysis.report import calibration
from scoring.data.extract import extract_features
from scoring.data.source import open_source
from scoring.model.config import config_from_dict, parse_config
from scoring.model.engine import Scores, score
from scoring.model.features import Features, calendar_months
from scoring.model.kpis import (
    DEFAULT_SQL_TARGET,
    MoverGroup,
    default_grid_cuts,
    fit_engagement_grid,
    kpis,
    monthly_volume,
    monthly_volume_from_months,
    movers,
    score_histogram,
)
from scoring.model.metrics import BandRow

from .conftest import SMALL_CONFIG

# --------------------------------------------------------------------------- helpers


def _ts(*dates: str) -> np.ndarray:
    return np.array(dates, dtype="datetime64[us]")


def _features(scoring_at, converted, mature) -> Features:
    """A hand-built Features with only what kpis.py reads."""
    scoring_at = np.asarray(scoring_at, dtype="datetime64[us]")
    n = len(scoring_at)
    return Features(
        spec=None,
        lead_id=np.arange(1, n + 1),
        created_at=scoring_at - np.timedelta64(7, "D"),
        scoring_at=scoring_at,
        converted=np.asarray(converted, dtype=bool),
        mature=np.asarray(mature, dtype=bool),
        categorical={},
        numeric={},
        signals={},
        data_end=dt.datetime(2024, 12, 31),
    )


def _scores(total=None, tier=None, fit=None, engagement=None) -> Scores:
    ref = next(np.asarray(a) for a in (total, tier, fit, engagement) if a is not None)
    n = len(ref)
    fit = np.zeros(n) if fit is None else np.asarray(fit, dtype=np.float64)
    engagement = np.zeros(n) if engagement is None else np.asarray(engagement, dtype=np.float64)
    total = fit + engagement if total is None else np.asarray(total, dtype=np.float64)
    tier = np.zeros(n, dtype=np.int8) if tier is None else np.asarray(tier, dtype=np.int8)
    return Scores(fit=fit, engagement=engagement, total=total, band=np.zeros(n, dtype=np.int16),
                  tier=tier, segment=np.full(n, -1, dtype=np.int16))


def _pandas_monthly(when: np.ndarray, mask: np.ndarray, drop_partial: bool) -> float:
    """Average per calendar month with pandas periods (independent of the numpy path)."""
    s = pd.Series(pd.to_datetime(when))
    periods = s.dt.to_period("M")
    all_months = pd.period_range(periods.min(), periods.max(), freq="M")
    counts = s[mask].groupby(periods[mask]).size().reindex(all_months, fill_value=0)
    if drop_partial:
        counts = counts.iloc[1:-1]
    return float(counts.mean())


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


# --------------------------------------------------------------------------- monthly_volume


def test_monthly_volume_drops_partial_first_and_last_month():
    when = _ts(
        "2024-01-15", "2024-01-31T23:59:59",                    # Jan (partial, dropped)
        "2024-02-01", "2024-02-10", "2024-02-29T23:59:59",       # Feb (leap day)
        "2024-03-01", "2024-03-31T12:00",                        # Mar
        "2024-04-01", "2024-04-02",                              # Apr (partial, dropped)
    )
    everyone = np.ones(when.size, dtype=bool)
    # full months Feb (3) and Mar (2): (3 + 2) / 2 = 2.5; Jan's 2 and Apr's 2 are left out
    assert monthly_volume(when, everyone) == 2.5
    assert monthly_volume(when, everyone) == _pandas_monthly(when, everyone, drop_partial=True)

    # only some leads: Jan 15, Feb 10, Feb 29, Mar 31, Apr 2 -> Feb 2, Mar 1: (2 + 1) / 2 = 1.5
    mask = np.array([1, 0, 0, 1, 1, 0, 1, 0, 1], dtype=bool)
    assert monthly_volume(when, mask) == 1.5
    assert monthly_volume(when, mask) == _pandas_monthly(when, mask, drop_partial=True)


def test_monthly_volume_counts_empty_middle_months_as_zero():
    # Jan .. May: the mask holds in Feb (2) and Apr (1) only; March has leads but none pass.
    when = _ts("2024-01-05", "2024-02-03", "2024-02-20", "2024-03-10", "2024-04-11", "2024-05-30")
    mask = np.array([True, True, True, False, True, True])
    # full months Feb, Mar, Apr: (2 + 0 + 1) / 3 = 1.0
    assert monthly_volume(when, mask) == pytest.approx(1.0)
    assert monthly_volume(when, mask) == pytest.approx(_pandas_monthly(when, mask, drop_partial=True))
    # the months come from all leads, not the masked ones: a mask that holds in May only
    # still averages over Feb .. Apr, all zero
    only_may = np.array([False] * 5 + [True])
    assert monthly_volume(when, only_may) == 0.0


def test_monthly_volume_keeps_both_months_of_a_two_month_span():
    when = _ts("2024-01-20", "2024-01-25", "2024-01-31", "2024-02-01", "2024-02-14")
    everyone = np.ones(when.size, dtype=bool)
    # span of 2 months: nothing dropped, (3 + 2) / 2 = 2.5
    assert monthly_volume(when, everyone) == 2.5
    assert monthly_volume(when, everyone) == _pandas_monthly(when, everyone, drop_partial=False)
    mask = np.array([False, False, False, True, True])
    # (0 + 2) / 2 = 1.0
    assert monthly_volume(when, mask) == 1.0
    assert monthly_volume(when, mask) == _pandas_monthly(when, mask, drop_partial=False)


def test_monthly_volume_single_month_and_empty():
    when = _ts("2024-03-02", "2024-03-09", "2024-03-30")
    assert monthly_volume(when, np.array([True, False, True])) == 2.0  # one month, kept: 2 / 1
    assert monthly_volume(_ts(), np.array([], dtype=bool)) == 0.0


# --------------------------------------------------------------------------- kpis

# Ten leads. Mature: 0..7; lead 8 converted but is immature (not counted); 9 immature.
#   lead  total tier mature conv  scoring month
#   0       5    0    yes    no    Jan
#   1       8    0    yes    yes   Jan
#   2      12    1    yes    no    Feb
#   3      15    1    yes    yes   Feb
#   4      15    1    yes    no    Mar   (tie with lead 3)
#   5      25    2    yes    yes   Mar
#   6      30    2    yes    no    Mar
#   7      35    2    yes    yes   Mar
#   8      40    2    no     yes   Apr
#   9      22    1    no     no    Apr
KPI_TOTAL = [5, 8, 12, 15, 15, 25, 30, 35, 40, 22]
KPI_TIER = [0, 0, 1, 1, 1, 2, 2, 2, 2, 1]
KPI_MATURE = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
KPI_CONV = [0, 1, 0, 1, 0, 1, 0, 1, 1, 0]
KPI_WHEN = ["2024-01-10", "2024-01-20", "2024-02-03", "2024-02-14", "2024-03-01",
            "2024-03-02", "2024-03-15", "2024-03-30", "2024-04-05", "2024-04-10"]


def _kpi_case():
    return _features(_ts(*KPI_WHEN), KPI_CONV, KPI_MATURE), _scores(total=KPI_TOTAL, tier=KPI_TIER)


def test_kpis_rates_intervals_and_capture_by_hand():
    features, scores = _kpi_case()
    k = kpis(features, scores)
    # MQL (tier >= 1) and mature: leads 2..7 = 6; converted among them: 3, 5, 7 = 3
    assert (k.mql.leads, k.mql.conversions) == (6, 3)
    assert k.mql.rate == 0.5
    # SQL (tier 2) and mature: leads 5, 6, 7 = 3; converted: 5, 7 = 2
    assert (k.sql.leads, k.sql.conversions) == (3, 2)
    assert k.sql.rate == pytest.approx(2 / 3)
    for key, (c, n) in (("mql", (3, 6)), ("sql", (2, 3))):
        low, high = _wilson(c, n)
        assert getattr(k, key).ci_low == pytest.approx(low, abs=1e-12)
        assert getattr(k, key).ci_high == pytest.approx(high, abs=1e-12)
    # all mature conversions: 1, 3, 5, 7 = 4 (lead 8 is immature); at MQL or above: 3 -> 3/4
    assert k.capture_at_mql == 0.75
    # monthly volume by scoring month, Jan and Apr dropped:
    # MQL: Feb {2, 3} = 2, Mar {4, 5, 6, 7} = 4 -> 3.0; SQL: Feb 0, Mar {5, 6, 7} = 3 -> 1.5
    assert k.mql_per_month == 3.0
    assert k.sql_per_month == 1.5
    assert k.sql_target == DEFAULT_SQL_TARGET
    # 2/3 is far above the default target 10%..15%
    assert k.sql_on_target is False
    assert k.capacity_per_month is None and k.over_capacity is None


def test_kpis_auc_matches_sklearn_on_mature_leads():
    features, scores = _kpi_case()
    k = kpis(features, scores)
    # mature scores 5, 8, 12, 15, 15, 25, 30, 35; converted 8, 15 (lead 3), 25, 35
    # positive beats negative (ties half): 8 -> {5} = 1; 15 -> {5, 12} + half of {15} = 2.5;
    # 25 -> {5, 12, 15} = 3; 35 -> all four = 4; (1 + 2.5 + 3 + 4) / (4 * 4) = 10.5 / 16
    assert k.auc == pytest.approx(10.5 / 16, abs=1e-12)
    m = np.asarray(KPI_MATURE, dtype=bool)
    expected = roc_auc_score(np.asarray(KPI_CONV)[m], np.asarray(KPI_TOTAL, dtype=float)[m])
    assert k.auc == pytest.approx(expected, abs=1e-12)
    assert k.gini == pytest.approx(2 * expected - 1, abs=1e-12)
    # immature leads do not enter: sklearn on all ten leads gives another value
    assert roc_auc_score(KPI_CONV, KPI_TOTAL) != pytest.approx(k.auc)


def test_kpis_sql_target_range_is_inclusive():
    features, scores = _kpi_case()
    assert kpis(features, scores, sql_target=(0.6, 0.7)).sql_on_target is True
    assert kpis(features, scores, sql_target=(2 / 3, 0.9)).sql_on_target is True  # on the edge
    assert kpis(features, scores, sql_target=(0.1, 2 / 3)).sql_on_target is True
    assert kpis(features, scores, sql_target=(0.7, 0.9)).sql_on_target is False
    assert kpis(features, scores, sql_target=(0.7, 0.9)).sql_target == (0.7, 0.9)


@pytest.mark.parametrize("capacity, over", [(2.5, True), (2.99, True), (3.0, False), (4.0, False)])
def test_kpis_over_capacity(capacity, over):
    features, scores = _kpi_case()
    k = kpis(features, scores, capacity_per_month=capacity)
    # 3.0 MQLs a month (see above): over capacity only when strictly above it
    assert k.capacity_per_month == capacity
    assert k.over_capacity is over


def test_kpis_without_mature_leads_or_conversions():
    features = _features(_ts("2024-01-10", "2024-02-10", "2024-03-10"), [1, 0, 0], [0, 0, 0])
    k = kpis(features, _scores(total=[50, 20, 5], tier=[2, 1, 0]))
    assert k.auc is None and k.gini is None
    assert k.mql.to_dict() == {"leads": 0, "conversions": 0, "rate": None, "ci_low": None, "ci_high": None}
    assert k.sql.rate is None and k.sql_on_target is None
    assert k.capture_at_mql is None
    # volume still counts immature leads: Jan .. Mar, only Feb kept, leads 2 (tier 1) -> 1
    assert k.mql_per_month == 1.0


def test_kpis_takes_a_precomputed_auc():
    features, scores = _kpi_case()
    k = kpis(features, scores, auc_value=0.9)
    assert k.auc == 0.9 and k.gini == pytest.approx(0.8)  # used as given: 2 * 0.9 - 1
    k = kpis(features, scores, auc_value=float("nan"))
    assert k.auc is None and k.gini is None
    # the rest does not depend on it
    assert k.mql == kpis(features, scores).mql


def _pandas_months(times: np.ndarray) -> list:
    """Months since 1970-01 as pandas counts them (year * 12 + month), None for NaT."""
    return [None if pd.isna(t) else (t.year - 1970) * 12 + t.month - 1 for t in pd.to_datetime(times)]


_RNG = np.random.default_rng(11)
MONTH_CASES = {
    "sorted over two years": np.sort(_RNG.integers(1_700_000_000, 1_763_000_000, 5_000)).astype("datetime64[s]")
    .astype("datetime64[us]"),
    "on month boundaries": np.array(["2024-01-31T23:59:59.999999", "2024-02-01T00:00:00", "2024-02-01T00:00:00",
                                     "2024-03-01T00:00:00", "2025-01-01T00:00:00"], dtype="datetime64[us]"),
    "before 1970": np.array(["1969-11-30T23:00", "1969-12-01T00:00", "1970-01-01T00:00"], dtype="datetime64[us]"),
    "unsorted": _RNG.integers(1_700_000_000, 1_763_000_000, 500).astype("datetime64[s]").astype("datetime64[us]"),
    "one lead": np.array(["2024-05-17T08:00"], dtype="datetime64[us]"),
    "none": np.array([], dtype="datetime64[us]"),
}


@pytest.mark.parametrize("times", MONTH_CASES.values(), ids=MONTH_CASES.keys())
def test_calendar_months_equal_pandas(times):
    months = calendar_months(times)
    assert months.dtype == np.int32
    assert months.tolist() == _pandas_months(times)


def test_calendar_months_with_a_missing_time_take_numpys_conversion():
    times = np.array(["2024-01-05", "NaT", "2024-03-01"], dtype="datetime64[us]")
    assert calendar_months(times).tolist() == times.astype("datetime64[M]").astype(np.int32).tolist()


def test_scoring_month_and_volume_from_months():
    features, _ = _kpi_case()
    # months since 1970-01: 2024-01 is (2024 - 1970) * 12 + 0 = 648
    expected = [(pd.Timestamp(w).year - 1970) * 12 + pd.Timestamp(w).month - 1 for w in KPI_WHEN]
    assert features.scoring_month.tolist() == expected
    assert features.scoring_month is features.scoring_month  # computed once
    assert features.subset(np.arange(10) >= 2).scoring_month.tolist() == expected[2:]
    mask = np.asarray(KPI_TIER) >= 1
    assert monthly_volume_from_months(np.asarray(expected), mask) == _pandas_monthly(
        _ts(*KPI_WHEN), mask, drop_partial=True)


# --------------------------------------------------------------------------- movers


def test_movers_by_hand():
    #   lead before after mature conv
    #   0     0     1    yes    yes   MQL up
    #   1     0     2    yes    no    MQL up, SQL up
    #   2     1     0    yes    no    MQL down
    #   3     2     0    no     yes   MQL down, SQL down (immature: its conversion not counted)
    #   4     2     1    yes    yes   SQL down
    #   5     1     2    yes    yes   SQL up
    #   6     1     1    yes    yes   no move
    #   7     0     0    yes    no    no move
    features = _features(_ts(*["2024-01-10"] * 8), [1, 0, 0, 1, 1, 1, 1, 0], [1, 1, 1, 0, 1, 1, 1, 1])
    before = _scores(tier=[0, 0, 1, 2, 2, 1, 1, 0])
    after = _scores(tier=[1, 2, 0, 0, 1, 2, 1, 0])
    got = movers(features, before, after)
    assert got == [
        MoverGroup("MQL", "up", leads=2, mature=2, conversions=1),     # 0, 1; converted: 0
        MoverGroup("MQL", "down", leads=2, mature=1, conversions=0),   # 2, 3; mature: 2
        MoverGroup("SQL", "up", leads=2, mature=2, conversions=1),     # 1, 5; converted: 5
        MoverGroup("SQL", "down", leads=2, mature=1, conversions=1),   # 3, 4; mature: 4 (converted)
    ]
    assert [g.rate for g in got] == [0.5, 0.0, 0.5, 1.0]
    # swapping before and after swaps up and down
    swapped = movers(features, after, before)
    assert [(g.line, g.direction, g.leads, g.mature, g.conversions) for g in swapped] == [
        ("MQL", "up", 2, 1, 0), ("MQL", "down", 2, 2, 1), ("SQL", "up", 2, 1, 1), ("SQL", "down", 2, 2, 1),
    ]


def test_mover_rate_is_none_without_mature_movers():
    assert MoverGroup("MQL", "up", leads=3, mature=0, conversions=0).rate is None
    assert MoverGroup("SQL", "down", leads=3, mature=4, conversions=1).rate == 0.25


# --------------------------------------------------------------------------- grid


def test_default_grid_cuts_thirds_of_cap_or_spread():
    capped = config_from_dict({
        "thresholds": {"mql": 10, "sql": 20}, "bands": [10],
        "caps": {"fit": {"min": 0, "max": 40}, "engagement": {"max": 30}},
    })
    values = np.array([-100.0, 5.0, 200.0])  # ignored where the cap gives the bound
    # fit capped 0..40: 40 / 3 = 13.33 and 26.67
    assert default_grid_cuts(capped, "fit", values) == pytest.approx((40 / 3, 80 / 3))
    # engagement: min from the values (-100), max from the cap (30): range 130 -> -56.67, -13.33
    assert default_grid_cuts(capped, "engagement", values) == pytest.approx((-100 + 130 / 3, -100 + 260 / 3))
    # total has no cap: spread of the values -100 .. 200 -> 0 and 100
    assert default_grid_cuts(capped, "total", values) == pytest.approx((0.0, 100.0))
    # all equal values: range forced to 1 -> 7 + 1/3, 7 + 2/3
    assert default_grid_cuts(capped, "total", np.array([7.0, 7.0])) == pytest.approx((7 + 1 / 3, 7 + 2 / 3))
    # no values, no cap: 0 .. 1
    assert default_grid_cuts(capped, "total", np.array([])) == pytest.approx((1 / 3, 2 / 3))


# Fit cuts (10, 20), engagement cuts (5, 15). A value equal to a cut goes up a level.
#   lead  fit   eng   mature conv  cell
#   0     25    20    yes    yes   A1
#   1     20    15    yes    no    A1   (both exactly on the upper cuts)
#   2     20    14.9  yes    yes   A2
#   3     19.9  5     yes    no    B2   (eng exactly on the lower cut)
#   4     10    4.99  yes    no    B3   (fit exactly on the lower cut)
#   5     9.99  0     yes    yes   C3
#   6     0     30    no     yes   C1   (immature: counted in leads only)
#   7     -5    5     yes    no    C2
#   8     15    10    yes    yes   B2
#   9     15    10    no     no    B2
GRID_FIT = [25, 20, 20, 19.9, 10, 9.99, 0, -5, 15, 15]
GRID_ENG = [20, 15, 14.9, 5, 4.99, 0, 30, 5, 10, 10]
GRID_MATURE = [1, 1, 1, 1, 1, 1, 0, 1, 1, 0]
GRID_CONV = [1, 0, 1, 0, 0, 1, 1, 0, 1, 0]


def test_fit_engagement_grid_by_hand_with_values_on_the_cuts():
    features = _features(_ts(*["2024-01-10"] * 10), GRID_CONV, GRID_MATURE)
    rows = fit_engagement_grid(features, _scores(fit=GRID_FIT, engagement=GRID_ENG), (10, 20), (5, 15))
    assert [r.cell for r in rows] == ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
    assert [(r.fit, r.engagement) for r in rows[:4]] == [("A", 1), ("A", 2), ("A", 3), ("B", 1)]
    got = {r.cell: (r.leads, r.mature, r.conversions) for r in rows}
    assert got == {
        "A1": (2, 2, 1),   # leads 0, 1
        "A2": (1, 1, 1),   # lead 2
        "A3": (0, 0, 0),
        "B1": (0, 0, 0),
        "B2": (3, 2, 1),   # leads 3, 8, 9 (9 immature); converted: 8
        "B3": (1, 1, 0),   # lead 4
        "C1": (1, 0, 0),   # lead 6, immature: its conversion is not counted
        "C2": (1, 1, 0),   # lead 7
        "C3": (1, 1, 1),   # lead 5
    }
    by_cell = {r.cell: r for r in rows}
    assert by_cell["A1"].rate == 0.5
    assert by_cell["B2"].rate == 0.5
    assert by_cell["A3"].rate is None and by_cell["A3"].ci_low is None and by_cell["A3"].ci_high is None
    assert by_cell["C1"].rate is None  # no mature lead
    low, high = _wilson(1, 2)
    assert by_cell["A1"].ci_low == pytest.approx(low, abs=1e-12)
    assert by_cell["A1"].ci_high == pytest.approx(high, abs=1e-12)
    assert by_cell["C3"].ci_high == 1.0 and by_cell["B3"].ci_low == 0.0


def test_fit_engagement_grid_matches_pandas_crosstab():
    rng = np.random.default_rng(7)
    n = 500
    # integer scores so many of them sit exactly on the cuts
    fit = rng.integers(-5, 41, size=n).astype(float)
    eng = rng.integers(0, 31, size=n).astype(float)
    mature = rng.random(n) < 0.8
    conv = rng.random(n) < 0.3
    fit_cuts, eng_cuts = (10.0, 25.0), (10.0, 20.0)
    rows = fit_engagement_grid(_features(_ts(*["2024-01-10"] * n), conv, mature),
                               _scores(fit=fit, engagement=eng), fit_cuts, eng_cuts)
    # pandas: half-open [low, high) bins, so a value on a cut falls in the higher one
    df = pd.DataFrame({
        "fit": pd.cut(fit, [-np.inf, *fit_cuts, np.inf], right=False, labels=["C", "B", "A"]),
        "eng": pd.cut(eng, [-np.inf, *eng_cuts, np.inf], right=False, labels=[3, 2, 1]),
        "mature": mature, "conv": conv & mature,
    })
    assert (df["fit"] == "A").sum() == (fit >= 25).sum()  # the bins are what we think they are
    leads = pd.crosstab(df["fit"], df["eng"], dropna=False)
    mat = pd.crosstab(df["fit"], df["eng"], values=df["mature"].astype(int), aggfunc="sum", dropna=False)
    cnv = pd.crosstab(df["fit"], df["eng"], values=df["conv"].astype(int), aggfunc="sum", dropna=False)
    for r in rows:
        f, e = r.fit, r.engagement
        assert r.leads == leads.loc[f, e], r.cell
        assert r.mature == mat.loc[f, e], r.cell
        assert r.conversions == cnv.loc[f, e], r.cell
        assert r.rate == pytest.approx(cnv.loc[f, e] / mat.loc[f, e])
    assert sum(r.leads for r in rows) == n


# --------------------------------------------------------------------------- histogram


def test_score_histogram_by_hand():
    # mature totals 0, 1, 2, 4 (converted 1 and 4); lead with 99 is immature and left out
    features = _features(_ts(*["2024-01-10"] * 5), [0, 1, 0, 1, 1], [1, 1, 1, 1, 0])
    h = score_histogram(_scores(total=[0, 1, 2, 4, 99]), features, bins=4)
    # range 0 .. 4 in 4 bins: [0,1) [1,2) [2,3) [3,4] (last bin closed)
    assert h.edges == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert h.converted == [0.0, 0.5, 0.0, 0.5]        # 1 and 4
    assert h.not_converted == [0.5, 0.0, 0.5, 0.0]    # 0 and 2


def test_score_histogram_matches_numpy_and_sums_to_one():
    rng = np.random.default_rng(3)
    n = 400
    total = rng.normal(40, 15, size=n).round()
    mature = rng.random(n) < 0.85
    conv = rng.random(n) < 1 / (1 + np.exp(-(total - 50) / 10))
    h = score_histogram(_scores(total=total), _features(_ts(*["2024-01-10"] * n), conv, mature), bins=40)
    t, y = total[mature], conv[mature]
    # numpy with bins + range (its own edges) rather than the explicit edges
    conv_counts, edges = np.histogram(t[y], bins=40, range=(t.min(), t.max()))
    non_counts, _ = np.histogram(t[~y], bins=40, range=(t.min(), t.max()))
    np.testing.assert_allclose(h.edges, edges, rtol=0, atol=1e-9)
    np.testing.assert_allclose(h.converted, conv_counts / y.sum(), atol=1e-12)
    np.testing.assert_allclose(h.not_converted, non_counts / (~y).sum(), atol=1e-12)
    assert sum(h.converted) == pytest.approx(1.0)
    assert sum(h.not_converted) == pytest.approx(1.0)
    assert len(h.converted) == 40 and len(h.edges) == 41


def test_score_histogram_degenerate_cases():
    one = _features(_ts("2024-01-10", "2024-01-11"), [1, 0], [1, 1])
    h = score_histogram(_scores(total=[5, 5]), one, bins=2)
    # all scores equal: range widened to 5 .. 6
    assert h.edges == [5.0, 5.5, 6.0]
    assert h.converted == [1.0, 0.0] and h.not_converted == [1.0, 0.0]
    none_mature = _features(_ts("2024-01-10"), [1], [0])
    assert score_histogram(_scores(total=[5]), none_mature) .to_dict() == {"edges": [], "converted": [], "not_converted": []}


# --------------------------------------------------------------------------- warnings_for


def _view(result_bands, k) -> ModelView:
    return ModelView(config=None, scores=None, result=SimpleNamespace(bands=result_bands), kpis=k)


def _band(band, leads, immature, small, ci_low, ci_high) -> BandRow:
    return BandRow(band=band, low=None, high=None, leads=leads, conversions=0, rate=None, ci_low=ci_low,
                   ci_high=ci_high, lift=None, share=None, capture=None, immature=immature, small=small)


def test_warnings_for_over_capacity_and_small_bands():
    features, scores = _kpi_case()
    k = kpis(features, scores, capacity_per_month=2)
    band = _band("10–20", leads=5, immature=0, small=True, ci_low=0.1, ci_high=0.7)
    empty = _band(">= 20", leads=0, immature=0, small=True, ci_low=None, ci_high=None)
    only_immature = _band("< 10", leads=0, immature=2, small=True, ci_low=None, ci_high=None)
    big = _band("big", leads=40, immature=0, small=False, ci_low=0.1, ci_high=0.2)
    out = warnings_for(_view([only_immature, band, empty, big], k), label="approved model")
    assert out == [
        "Band < 10 of the approved model has only 0 mature leads (fewer than 30): its rate is not reliable.",
        "Band 10–20 of the approved model has only 5 mature leads (fewer than 30): its rate is not "
        "reliable; its 95% interval is 10% to 70%.",
        # 3 MQLs a month (see the KPI example) against a capacity of 2
        "The approved model MQL threshold passes 3 leads a month, more than the sales capacity of 2.",
    ]
    assert warnings_for(_view([big], kpis(features, scores, capacity_per_month=3))) == []


# --------------------------------------------------------------------------- calibration_view


def _draft_config():
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"][0]["points"] = 5
    return config_from_dict(data)


@pytest.fixture
def small_features(small_db):
    with open_source(small_db) as source:
        return extract_features(source, parse_config(SMALL_CONFIG))


def test_calibration_view_on_small_db(small_features):
    approved, draft = parse_config(SMALL_CONFIG), _draft_config()
    features = small_features
    view = calibration_view(draft, approved, features)

    # draft and approved are each what the report computes on their own
    d_scores, a_scores = score(draft, features), score(approved, features)
    assert view.draft.result == calibration(draft, features, d_scores)
    assert view.approved.result == calibration(approved, features, a_scores)
    assert view.draft.kpis == kpis(features, d_scores)
    np.testing.assert_array_equal(view.draft.scores.total, d_scores.total)
    np.testing.assert_array_equal(view.approved.scores.total, a_scores.total)

    # draft totals by hand: lead 1 fit 15 + 2 demo requests * 5 + 1 open = 26;
    # lead 4 fit 13 + 2 * 5 = 23; the others have no demo request: -3, 1, 10, 2
    assert view.draft.scores.total.tolist() == [26, -3, 1, 23, 10, 2]
    # tiers (mql 10, sql 30): approved 46 and 43 were SQL, the draft's 26 and 23 are MQL
    assert view.approved.scores.tier.tolist() == [2, 0, 0, 2, 1, 0]
    assert view.draft.scores.tier.tolist() == [1, 0, 0, 1, 1, 0]

    # movers, counted independently lead by lead from the two engine results
    y = features.converted & features.mature
    expected = []
    for line, level in (("MQL", 1), ("SQL", 2)):
        for direction in ("up", "down"):
            moved = [i for i in range(features.n)
                     if (a_scores.tier[i] < level <= d_scores.tier[i]) == (direction == "up")
                     and (a_scores.tier[i] >= level) != (d_scores.tier[i] >= level)]
            expected.append(MoverGroup(line, direction, len(moved),
                                       sum(bool(features.mature[i]) for i in moved),
                                       sum(bool(y[i]) for i in moved)))
    assert view.movers == expected
    # by hand: leads 1 and 4 go down across SQL, both mature and converted; nothing else moves
    assert [(g.line, g.direction, g.leads, g.mature, g.conversions) for g in view.movers] == [
        ("MQL", "up", 0, 0, 0), ("MQL", "down", 0, 0, 0), ("SQL", "up", 0, 0, 0), ("SQL", "down", 2, 2, 2),
    ]

    # the diff names the one change
    assert [c.to_dict() for c in view.diff] == [{"what": "engagement 'demo_request' points", "change": "changed",
                          "before": 20.0, "after": 5.0}]

    # grid cuts from the draft's spread (no caps): fit -5 .. 15 -> -5 + 20/3, -5 + 40/3;
    # engagement 0 .. 11 -> 11/3, 22/3
    assert view.grid_cuts.fit == pytest.approx((-5 + 20 / 3, -5 + 40 / 3))
    assert view.grid_cuts.engagement == pytest.approx((11 / 3, 22 / 3))
    # fit 15, -5, 1, 13, 10, 2 -> A, C, C, A, A, B; engagement 11, 2, 0, 10, 0, 0 -> 1, 3, 3, 1, 3, 3
    cells = {r.cell: (r.leads, r.mature, r.conversions) for r in view.grid if r.leads}
    assert cells == {"A1": (2, 2, 2), "A3": (1, 1, 0), "B3": (1, 0, 0), "C3": (2, 2, 0)}

    # histogram of the draft's mature scores 26, -3, 1, 23, 10 (converted: 26, 23)
    t = np.array([26, -3, 1, 23, 10.0])
    yy = np.array([True, False, False, True, False])
    conv_counts, _ = np.histogram(t[yy], bins=40, range=(-3, 26))
    assert view.histogram.converted == pytest.approx((conv_counts / 2).tolist())
    assert sum(view.histogram.not_converted) == pytest.approx(1.0)


def test_calibration_view_warns_about_small_bands(small_features):
    view = calibration_view(_draft_config(), parse_config(SMALL_CONFIG), small_features)
    # draft bands [10, 20, 30] over totals 26, -3, 1, 23, 10, 2 (lead 6 immature):
    # < 10: leads 2, 3 mature (+ lead 6 immature); 10–20: lead 5; 20–30: leads 1, 4; >= 30: none
    assert len(view.warnings) == 3
    assert view.warnings[0].startswith("Band < 10 of the draft has only 2 mature leads (fewer than 30)")
    assert view.warnings[1].startswith("Band 10–20 of the draft has only 1 mature leads (fewer than 30)")
    assert view.warnings[2].startswith("Band 20–30 of the draft has only 2 mature leads (fewer than 30)")
    # 20–30 holds 2 converted of 2: Wilson 34% .. 100%
    low, _ = _wilson(2, 2)
    assert f"its 95% interval is {low:.0%} to 100%" in view.warnings[2]
    assert not any(">= 30" in w for w in view.warnings)  # an empty band is not worth a warning


def test_calibration_view_uses_a_cached_approved_view(small_features):
    approved, draft = parse_config(SMALL_CONFIG), _draft_config()
    cached = model_view(approved, small_features)
    view = calibration_view(draft, approved, small_features, approved_view=cached)
    assert view.approved is cached
    fresh = calibration_view(draft, approved, small_features)
    assert view.movers == fresh.movers
    assert view.approved.result == fresh.approved.result


def test_sections_not_shown_are_not_computed(small_features, monkeypatch):
    """Movers, grid, histogram and diff are computed when read, once: a slider move pays only for what is shown."""
    import scoring.analysis.calibrate as calibrate

    calls = {"movers": 0, "fit_engagement_grid": 0, "score_histogram": 0, "config_diff": 0}
    for name in calls:
        real = getattr(calibrate, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(calibrate, name, counted)
    approved, draft = parse_config(SMALL_CONFIG), _draft_config()
    view = calibration_view(draft, approved, small_features)
    assert calls == {"movers": 0, "fit_engagement_grid": 0, "score_histogram": 0, "config_diff": 0}
    first = (view.movers, view.grid, view.histogram, view.diff)
    assert (view.movers, view.grid, view.histogram, view.diff) == first
    assert calls == {"movers": 1, "fit_engagement_grid": 1, "score_histogram": 1, "config_diff": 1}
    fresh = calibration_view(draft, approved, small_features)  # the same numbers as computing them at once
    assert fresh.movers == first[0] and fresh.grid == first[1] and fresh.diff == first[3]


def test_model_view_passes_target_and_capacity(small_features):
    v = model_view(parse_config(SMALL_CONFIG), small_features, sql_target=(0.5, 1.0), capacity_per_month=-1)
    # approved SQL: leads 1 and 4, both mature and converted -> 2 / 2 = 1.0, inside 0.5 .. 1.0
    assert v.kpis.sql.rate == 1.0 and v.kpis.sql_on_target is True
    # scoring months Jan (leads 1-5) .. Jun (lead 6): Feb .. May are full and hold no lead -> 0
    assert v.kpis.mql_per_month == 0.0
    assert v.kpis.over_capacity is True
    assert math.isclose(v.kpis.capacity_per_month, -1)
