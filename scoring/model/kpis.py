"""What the calibration meeting reads off the screen, beyond the band table.

KPIs (AUC, MQL volume per month, MQL and SQL conversion, capture at MQL), the movers
between the approved model and the draft, the fit x engagement grid and the score
distributions. numpy on features and scores, and a compiled count per table where numpy
needs several passes over every lead (``scoring.kernels``), so a slider move stays instant.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import ScoringConfig
from .engine import Scores
from .features import Features
from .kernels import grid_cells, tier_moves
from .metrics import auc, gini, wilson_interval
from .sorting import sort_scores

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


@dataclass(frozen=True)
class Rate:
    """How a group of mature leads converted: leads, conversions, rate and its Wilson 95% interval."""

    leads: int
    conversions: int
    rate: float | None
    """None without mature leads."""
    ci_low: float | None
    ci_high: float | None

    @classmethod
    def of(cls, k: int, n: int) -> "Rate":
        """``k`` conversions among ``n`` mature leads."""
        low, high = wilson_interval(k, n)
        return cls(int(n), int(k), k / n if n else None, None if not n else float(low),
                   None if not n else float(high))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Kpis:
    """The KPI row the meeting reads first (see ``glossary`` for each figure in words)."""

    auc: float | None
    gini: float | None
    mql_per_month: float | None
    """Average leads a month at or above MQL, full months only; None without creation times."""
    sql_per_month: float | None
    mql: Rate
    """Conversion of the mature MQLs (at or above MQL)."""
    sql: Rate
    """Conversion of the mature SQLs (at or above SQL)."""
    sql_target: tuple[float, float]
    sql_on_target: bool | None
    capture_at_mql: float | None
    """Share of all conversions at or above MQL."""
    capacity_per_month: float | None
    over_capacity: bool | None

    def to_dict(self) -> dict:
        """The JSON form recorded with an approval."""
        out = asdict(self)
        out["sql_target"] = list(self.sql_target)
        return out


@dataclass(frozen=True)
class OutcomeFacts:
    """Facts of the data, whatever the model: mature leads, conversions, open leads, the dates."""

    mature_leads: int
    immature_leads: int
    open_leads: int | None
    """Leads still open (won / lost / open outcomes); None with a conversion time alone."""
    open_counted_lost: int | None
    """Open leads counted as lost by ``open_lost_after_days``."""
    conversions: int
    conversion_rate: float | None
    first_lead: str | None
    last_lead: str | None
    """Creation times of the first and last lead (``YYYY-MM-DD HH:MM:SS``); None without creation times."""


def outcome_facts(features: Features) -> OutcomeFacts:
    """Mature leads, conversions and date range: facts of the data, counted once per feature set."""
    cached = features.cache.get("outcome_facts")
    if cached is None:
        mature = features.mature
        y = features.converted[mature]
        timed = bool(features.n) and features.point_in_time
        is_open = getattr(features, "open", None)
        cached = OutcomeFacts(
            mature_leads=int(mature.sum()),
            immature_leads=int(features.n - mature.sum()),
            open_leads=None if is_open is None else int(is_open.sum()),
            open_counted_lost=None if is_open is None else int((is_open & mature).sum()),
            conversions=int(y.sum()),
            conversion_rate=float(y.mean()) if y.size else None,
            first_lead=_iso(features.created_at.min()) if timed else None,
            last_lead=_iso(features.created_at.max()) if timed else None,
        )
        features.cache["outcome_facts"] = cached
    return cached


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="s")).replace("T", " ")


def kpis(features: Features, scores: Scores, sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
         capacity_per_month: float | None = None, auc_value: float | None = None) -> Kpis:
    """The KPI row: AUC/Gini, MQL volume and rate, SQL rate vs target, capture at MQL.

    ``auc_value`` may be passed when already computed (it costs a sort of the scores).
    """
    mature = features.mature
    a = auc(scores.total[mature], features.converted[mature]) if auc_value is None else auc_value
    return kpis_from_counts(tier_month_counts(features, scores.tier), features.point_in_time,
                            sql_target, capacity_per_month, a)


def outcome_status(features: Features) -> np.ndarray:
    """Per lead 0 immature, 1 mature not converted, 2 mature converted (int8, computed once)."""
    cached = features.cache.get("outcome_status")
    if cached is None:
        cached = features.mature.astype(np.int8) + (features.converted & features.mature)
        cached.setflags(write=False)
        features.cache["outcome_status"] = cached
    return cached


def month_status_key(features: Features) -> tuple[np.ndarray, int]:
    """Per lead ``(month * 3 + outcome status) * 3`` and the number of months, computed once.

    Adding a lead's tier (0-2) gives its cell in one count over month x status x tier, from
    which every KPI follows; without creation times there is one "month".
    """
    cached = features.cache.get("month_status_key")
    if cached is None:
        status = outcome_status(features)
        if features.point_in_time and features.n:
            months = features.scoring_month
            first = int(months.min())
            span = int(months.max()) - first + 1
        else:
            months, first, span = np.zeros(features.n, dtype=np.int32), 0, 1
        key = np.subtract(months, first, dtype=np.int32 if span * 9 < 2**31 else np.int64)  # in place from here:
        key *= 3  # 10M leads 0.14 -> 0.03 s
        key += status
        key *= 3
        cached = (key, span)
        features.cache["month_status_key"] = cached
    return cached


def tier_month_counts(features: Features, tier: np.ndarray) -> np.ndarray:
    """Leads per scoring month x outcome status x tier (see ``month_status_key``)."""
    key, span = month_status_key(features)
    return np.bincount(np.add(key, tier, dtype=np.intp), minlength=span * 9).reshape(span, 3, 3)


def kpis_from_counts(counts: np.ndarray, timed: bool, sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
                     capacity_per_month: float | None = None, auc_value: float = float("nan")) -> Kpis:
    """The KPI row from counts per month x outcome status x tier (``tier_month_counts``).

    A slider move updates these counts for the leads that moved, instead of recounting all.
    """
    by_status = counts.sum(axis=0)  # status x tier
    total_conv = int(by_status[2].sum())
    mql = Rate.of(int(by_status[2, 1:].sum()), int(by_status[1:, 1:].sum()))
    sql = Rate.of(int(by_status[2, 2]), int(by_status[1:, 2].sum()))
    per_month = counts.sum(axis=1)  # month x tier, every lead (mature or not)
    if per_month.shape[0] >= 3:
        per_month = per_month[1:-1]  # first and last month are usually partial
    mql_per_month = float(per_month[:, 1:].sum(axis=1).mean()) if timed else None
    a = auc_value
    return Kpis(
        auc=None if math.isnan(a) else a,
        gini=None if math.isnan(a) else gini(a),
        mql_per_month=mql_per_month,
        sql_per_month=float(per_month[:, 2].mean()) if timed else None,
        mql=mql,
        sql=sql,
        sql_target=(sql_target[0], sql_target[1]),
        sql_on_target=None if sql.rate is None else bool(sql_target[0] <= sql.rate <= sql_target[1]),
        capture_at_mql=(mql.conversions / total_conv) if total_conv else None,
        capacity_per_month=capacity_per_month,
        over_capacity=(None if capacity_per_month is None or mql_per_month is None
                       else bool(mql_per_month > capacity_per_month)),
    )


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

    def to_dict(self) -> dict:
        """The group as a table row, with its rate."""
        return {**asdict(self), "rate": self.rate}


@dataclass(frozen=True)
class GridCell:
    """One cell of the fit x engagement grid: fit A (best) to C, engagement 1 (most) to 3."""

    cell: str
    """``A1`` .. ``C3``."""
    fit: str
    engagement: int
    leads: int
    """Every lead in the cell (mature or not)."""
    mature: int
    conversions: int
    rate: float | None
    """Conversion of the cell's mature leads."""
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Histogram:
    """Score distribution of converted vs other mature leads, as shares per bin (empty without both)."""

    edges: list[float]
    converted: list[float]
    not_converted: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


def movers(features: Features, before: Scores, after: Scores) -> list[MoverGroup]:
    """How many leads cross the MQL and SQL lines each way, and how those movers converted."""
    # one count over (tier before, tier after, outcome status): every mover group follows
    cells = tier_moves(before.tier, after.tier, outcome_status(features)).reshape(3, 3, 3)
    out = []
    for line, level in (("MQL", 1), ("SQL", 2)):
        for direction, group in (("up", cells[:level, level:]), ("down", cells[level:, :level])):
            by_status = group.sum(axis=(0, 1))
            out.append(MoverGroup(line, direction, int(by_status.sum()), int(by_status[1] + by_status[2]),
                                  int(by_status[2])))
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
                        engagement_cuts: tuple[float, float]) -> list[GridCell]:
    """Leads and conversion per cell: fit A (best) to C, engagement 1 (most) to 3."""
    # one compiled count over (fit level, engagement level, outcome status): this runs per slider move
    counts = grid_cells(scores.fit, scores.engagement, float(fit_cuts[0]), float(fit_cuts[1]),
                        float(engagement_cuts[0]), float(engagement_cuts[1]), outcome_status(features)).reshape(9, 3)
    leads = counts[:, 1] + counts[:, 2]
    conv = counts[:, 2]
    all_leads = counts.sum(axis=1)
    low, high = wilson_interval(conv, leads)
    rows = []
    for i in range(9):
        rows.append(GridCell(
            cell="ABC"[i // 3] + str(i % 3 + 1),
            fit="ABC"[i // 3],
            engagement=i % 3 + 1,
            leads=int(all_leads[i]),
            mature=int(leads[i]),
            conversions=int(conv[i]),
            rate=float(conv[i] / leads[i]) if leads[i] else None,
            ci_low=None if not leads[i] else float(low[i]),
            ci_high=None if not leads[i] else float(high[i]),
        ))
    return rows


def score_histogram(scores: Scores, features: Features, bins: int = 40,
                    sorted_classes: tuple[np.ndarray, np.ndarray] | None = None) -> Histogram:
    """Score distribution of converted vs not converted mature leads, as shares.

    ``sorted_classes`` (the sorted scores of converted and other mature leads, kept by
    ``scoring.model.rescore``) turns the two histograms into binary searches of the bin edges.
    """
    if sorted_classes is None:
        mature = features.mature
        y = features.converted[mature]
        total = scores.total[mature]
        sorted_classes = (sort_scores(total[y]), sort_scores(total[~y]))
    conv_sorted, non_sorted = sorted_classes
    ends = [a[[0, -1]] for a in sorted_classes if a.size]
    if not ends:
        return Histogram([], [], [])
    lo, hi = float(min(e[0] for e in ends)), float(max(e[1] for e in ends))
    if hi <= lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, bins + 1)
    conv, non = (_bin_counts(a, edges) for a in (conv_sorted, non_sorted))
    return Histogram(edges=edges.tolist(), converted=(conv / max(conv.sum(), 1)).tolist(),
                     not_converted=(non / max(non.sum(), 1)).tolist())


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram`` counts of sorted values: half-open bins, the last one closed."""
    at = np.searchsorted(sorted_values, edges, side="left")
    at[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(at)
