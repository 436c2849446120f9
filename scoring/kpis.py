"""What the calibration meeting reads off the screen, beyond the band table.

KPIs (AUC, MQL volume per month, MQL and SQL conversion, capture at MQL), the movers
between the approved model and the draft, the fit x engagement grid and the score
distributions. Pure numpy on features and scores, so a slider move stays instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import ScoringConfig
from .engine import Scores
from .features import Features
from .metrics import auc, gini, wilson_interval

DEFAULT_SQL_TARGET = (0.10, 0.15)


def monthly_volume(when: np.ndarray, mask: np.ndarray) -> float:
    """Average leads per calendar month where ``mask`` holds, over full months only."""
    return monthly_volume_from_months(when.astype("datetime64[M]").astype(np.int64), mask)


def monthly_volume_from_months(months: np.ndarray, mask: np.ndarray) -> float:
    """Average leads per calendar month where ``mask`` holds, over full months only.

    The first and last month of the data are usually partial; they are left out when
    there are at least three months, so a half month does not drag the average down.
    """
    if months.size == 0:
        return 0.0
    first, last = int(months.min()), int(months.max())
    span = last - first + 1
    counts = np.bincount(months[mask] - first, minlength=span)
    if span >= 3:
        counts = counts[1:-1]
    return float(counts.mean())


def _rate(k: int, n: int) -> dict:
    low, high = wilson_interval(k, n)
    return {
        "leads": int(n),
        "conversions": int(k),
        "rate": k / n if n else None,
        "ci_low": None if not n else float(low),
        "ci_high": None if not n else float(high),
    }


def kpis(features: Features, scores: Scores, sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
         capacity_per_month: float | None = None, auc_value: float | None = None) -> dict:
    """The KPI row: AUC/Gini, MQL volume and rate, SQL rate vs target, capture at MQL.

    ``auc_value`` may be passed when already computed (it costs a sort of the scores).
    """
    mature = features.mature
    y = features.converted & mature
    a = auc(scores.total[mature], features.converted[mature]) if auc_value is None else auc_value
    is_mql = scores.tier >= 1
    is_sql = scores.tier >= 2
    total_conv = int(y.sum())
    timed = features.point_in_time  # without creation times there are no months
    months = features.scoring_month if timed else None
    mql_per_month = monthly_volume_from_months(months, is_mql) if timed else None
    mql = _rate(int((y & is_mql).sum()), int((mature & is_mql).sum()))
    sql = _rate(int((y & is_sql).sum()), int((mature & is_sql).sum()))
    sql_rate = sql["rate"]
    return {
        "auc": None if math.isnan(a) else a,
        "gini": None if math.isnan(a) else gini(a),
        "mql_per_month": mql_per_month,
        "sql_per_month": monthly_volume_from_months(months, is_sql) if timed else None,
        "mql": mql,
        "sql": sql,
        "sql_target": list(sql_target),
        "sql_on_target": None if sql_rate is None else bool(sql_target[0] <= sql_rate <= sql_target[1]),
        "capture_at_mql": (int((y & is_mql).sum()) / total_conv) if total_conv else None,
        "capacity_per_month": capacity_per_month,
        "over_capacity": (None if capacity_per_month is None or mql_per_month is None
                          else bool(mql_per_month > capacity_per_month)),
    }


@dataclass(frozen=True)
class MoverGroup:
    """Leads that moved across a line in one direction, and how they converted."""

    line: str
    direction: str
    leads: int
    mature: int
    conversions: int

    @property
    def rate(self) -> float | None:
        """Conversion rate of the mature movers."""
        return self.conversions / self.mature if self.mature else None


def movers(features: Features, before: Scores, after: Scores) -> list[MoverGroup]:
    """How many leads cross the MQL and SQL lines each way, and how those movers converted."""
    y = features.converted & features.mature
    out = []
    for line, level in (("MQL", 1), ("SQL", 2)):
        was, now = before.tier >= level, after.tier >= level
        for direction, mask in (("up", ~was & now), ("down", was & ~now)):
            out.append(MoverGroup(line, direction, int(mask.sum()), int((mask & features.mature).sum()),
                                  int((mask & y).sum())))
    return out


def default_grid_cuts(config: ScoringConfig, part: str, values: np.ndarray) -> tuple[float, float]:
    """Two cut points splitting a score part in thirds of its capped range (else its spread)."""
    cap = getattr(config.caps, part)
    low = cap.min if cap and cap.min is not None else (float(values.min()) if values.size else 0.0)
    high = cap.max if cap and cap.max is not None else (float(values.max()) if values.size else 1.0)
    if high <= low:
        high = low + 1.0
    return low + (high - low) / 3, low + 2 * (high - low) / 3


def fit_engagement_grid(features: Features, scores: Scores, fit_cuts: tuple[float, float],
                        engagement_cuts: tuple[float, float]) -> list[dict]:
    """Leads and conversion per cell: fit A (best) to C, engagement 1 (most) to 3."""
    # one comparison per cut and one count over (cell, outcome status): this runs per slider move
    fit_level = 2 - (scores.fit >= fit_cuts[0]).astype(np.int8) - (scores.fit >= fit_cuts[1])  # 0 = A
    eng_level = (2 - (scores.engagement >= engagement_cuts[0]).astype(np.int8)
                 - (scores.engagement >= engagement_cuts[1]))
    mature = features.mature
    y = features.converted & mature
    status = mature.astype(np.int8) + y  # 0 immature, 1 mature not converted, 2 converted
    counts = np.bincount((fit_level * 3 + eng_level) * 3 + status, minlength=27).reshape(9, 3)
    leads = counts[:, 1] + counts[:, 2]
    conv = counts[:, 2]
    all_leads = counts.sum(axis=1)
    low, high = wilson_interval(conv, leads)
    rows = []
    for i in range(9):
        rows.append({
            "cell": "ABC"[i // 3] + str(i % 3 + 1),
            "fit": "ABC"[i // 3],
            "engagement": i % 3 + 1,
            "leads": int(all_leads[i]),
            "mature": int(leads[i]),
            "conversions": int(conv[i]),
            "rate": float(conv[i] / leads[i]) if leads[i] else None,
            "ci_low": None if not leads[i] else float(low[i]),
            "ci_high": None if not leads[i] else float(high[i]),
        })
    return rows


def score_histogram(scores: Scores, features: Features, bins: int = 40) -> dict:
    """Score distribution of converted vs not converted mature leads, as shares."""
    mature = features.mature
    total = scores.total[mature]
    y = features.converted[mature]
    if total.size == 0:
        return {"edges": [], "converted": [], "not_converted": []}
    lo, hi = float(total.min()), float(total.max())
    if hi <= lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, bins + 1)
    conv, _ = np.histogram(total[y], bins=edges)
    non, _ = np.histogram(total[~y], bins=edges)
    return {
        "edges": edges.tolist(),
        "converted": (conv / max(conv.sum(), 1)).tolist(),
        "not_converted": (non / max(non.sum(), 1)).tolist(),
    }
