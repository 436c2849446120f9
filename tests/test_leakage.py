"""scoring.analysis.leakage: the one definition of a post-outcome column, checked against pandas on generated leads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.analysis.leakage import LEAKAGE_IV, check, information_value, numeric_groups, quantile_edges

N = 2000


@pytest.fixture
def leads():
    rng = np.random.default_rng(3)
    converted = rng.random(N) < 0.3
    is_open = rng.random(N) < 0.1
    converted &= ~is_open
    known = ~is_open
    return rng, converted, known, is_open


def _pandas_iv(groups: np.ndarray, y: np.ndarray, min_leads: int = 30) -> float:
    """IV with pandas: values with fewer than 30 leads pooled, an empty class cell counted as half a lead."""
    df = pd.DataFrame({"g": groups, "y": y})
    size = df.groupby("g")["y"].transform("size")
    df.loc[size < min_leads, "g"] = -1
    t = df.groupby("g")["y"].agg(["sum", "count"])
    c, n = t["sum"].astype(float), (t["count"] - t["sum"]).astype(float)
    pc, pn = c.where(c > 0, 0.5) / c.sum(), n.where(n > 0, 0.5) / n.sum()
    return float(((pc - pn) * np.log(pc / pn)).sum())


def test_a_status_that_tells_the_outcome_is_flagged_by_iv_and_the_line_decides(leads):
    rng, converted, known, is_open = leads
    # a sales status: 'Closed by sales' for 90% of converted leads, 'Ringing' / 'Switched off' for the rest
    status = np.where(converted & (rng.random(N) < 0.9), 0, rng.integers(1, 3, N))
    status[rng.random(N) < 0.01] = 9  # a rare value (about 20 leads): pooled
    filled = np.ones(N, bool)
    expected = _pandas_iv(status[known], converted[known])
    assert information_value(status, converted, known, 30) == pytest.approx(expected, rel=1e-12)
    leak = check("status", filled, status, converted, known, is_open)
    assert expected > LEAKAGE_IV and leak is not None and leak.reason == "iv"
    assert leak.iv == pytest.approx(expected) and f"IV {expected:.2f}" in leak.message
    assert check("status", filled, status, converted, known, is_open, leakage_iv=expected + 0.01) is None


def test_filled_only_for_converted_closed_or_lost_leads(leads):
    rng, converted, known, is_open = leads
    groups = np.zeros(N, np.int64)
    won_only = converted & (rng.random(N) < 0.8)
    leak = check("won_date_field", won_only, groups, converted, known, is_open)
    assert leak.reason == "converted only" and f"{won_only[converted].mean():.0%} of converted leads" in leak.message
    closed_only = known & (rng.random(N) < 0.7)
    leak = check("close_reason", closed_only, groups, converted, known, is_open)
    assert leak.reason == "closed only" and "0.0% of open ones" in leak.message
    lost_only = known & ~converted & (rng.random(N) < 0.9)
    assert check("lost_reason", lost_only, groups, converted, known, is_open).reason == "lost only"
    # without open leads (a yes/no outcome) a closed-only column cannot be told from any other
    assert check("close_reason", closed_only, groups, converted, known, None) is None
    # a field filled for everyone that predicts nothing is fine
    assert check("industry", np.ones(N, bool), rng.integers(0, 5, N), converted, known, is_open) is None


def test_too_few_leads_are_not_judged():
    converted = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    known = np.ones(8, bool)
    assert check("x", converted.copy(), converted.astype(np.int64), converted, known) is None


def test_numeric_groups_are_quantile_bins_that_never_split_a_tie():
    values = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, np.nan])
    edges = quantile_edges(values, 4)
    # quartiles (method 'higher') of the 15 filled values: 0, 2, 6 -> cut points above the minimum: 2, 6
    assert edges.tolist() == [2.0, 6.0]
    groups, _ = numeric_groups(values, bins=4)
    assert groups.tolist() == [0] * 6 + [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    expected = pd.cut(pd.Series(values[:-1]), [-np.inf, 2, 6, np.inf], right=False, labels=False)
    assert groups[:-1].tolist() == expected.tolist()
