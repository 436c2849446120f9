"""Band (gains) table, conversion with Wilson intervals, AUC / Gini / KS, tiers.

Conventions from credit scoring, so the numbers mean what analysts expect:
conversion per band with a Wilson 95% interval; lift = band rate / overall rate;
capture = share of all conversions at or above a band; AUC from ranks with ties
counted half; Gini = 2 * AUC - 1; KS = largest gap between the cumulative score
distributions of converted and not-converted leads. Only mature leads (whose outcome
window has passed) enter a rate; immature ones are counted separately, never as lost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .config import ScoringConfig
from .engine import TIERS
from .kernels import auc_ks, auc_ks_part
from .sorting import sort_scores

Z95 = 1.959963984540054
SMALL_BAND = 30
"""Bands with fewer mature leads than this are flagged: their rate is noise."""


@dataclass(frozen=True)
class BandRow:
    """One row of the band (gains) table: a score range and how its leads converted (see the module doc)."""

    band: str
    """The label, e.g. ``20–40``, ``< 20``, ``>= 80``."""
    low: float | None
    high: float | None
    leads: int
    """Mature leads (whose outcome window has passed)."""
    conversions: int
    rate: float | None
    """Conversions / mature leads; None without mature leads."""
    ci_low: float | None
    ci_high: float | None
    """Wilson 95% interval of ``rate``."""
    lift: float | None
    """Band rate / overall rate."""
    share: float | None
    """Share of all mature leads."""
    capture: float | None
    """Share of all conversions in this band or above."""
    immature: int
    """Leads still inside their outcome window: shown, never counted as lost."""
    small: bool
    """Fewer than ``SMALL_BAND`` mature leads: the rate is noise."""

    def to_dict(self) -> dict:
        """The documented JSON row (``bands`` of ``leadcal report --format json``)."""
        return asdict(self)


@dataclass(frozen=True)
class TierRow:
    """Leads, conversions and rate of the mature leads in one tier, and the immature ones."""

    leads: int
    conversions: int
    rate: float | None
    immature: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Tiers:
    """The tier table: below MQL, MQL (below SQL) and SQL (``engine.TIERS``)."""

    below_mql: TierRow
    mql: TierRow
    sql: TierRow

    def rows(self) -> list[tuple[str, TierRow]]:
        """(tier name, row) in ``TIERS`` order."""
        return [("below_mql", self.below_mql), ("mql", self.mql), ("sql", self.sql)]

    def to_dict(self) -> dict:
        """The documented JSON form (``tiers``): tier name -> row."""
        return {name: row.to_dict() for name, row in self.rows()}


def wilson_interval(successes: np.ndarray | int, trials: np.ndarray | int,
                    z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion; NaN where there are no trials."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        low, high = centre - half, centre + half
    # exact ends: float rounding must not put 0/n above 0 or n/n below 1
    low = np.where(n > 0, np.where(k == 0, 0.0, np.clip(low, 0, 1)), np.nan)
    high = np.where(n > 0, np.where(k == n, 1.0, np.clip(high, 0, 1)), np.nan)
    return low, high


def auc(scores: np.ndarray, converted: np.ndarray) -> float:
    """Area under the ROC curve from ranks, ties counted half; NaN with one class."""
    return separation(scores, converted)[0]


def separation(scores: np.ndarray, converted: np.ndarray) -> tuple[float, float]:
    """AUC (ties counted half) and KS, exact, from two plain sorts.

    Sorting converted and other leads separately (no permutation) and binary-searching
    is several times faster than ranking every lead (``np.unique(return_inverse)``), and
    this runs on every slider move.
    """
    scores = np.asarray(scores)
    y = np.asarray(converted, dtype=bool)
    return separation_sorted(sort_scores(scores[y]), sort_scores(scores[~y]))


def separation_sorted(pos: np.ndarray, neg: np.ndarray, submit=None) -> tuple[float, float]:
    """AUC and KS from the sorted scores of converted (``pos``) and other (``neg``) leads.

    One compiled walk over both (``kernels.auc_ks``), so keeping the two sorted arrays up
    to date (``scoring.model.rescore``) makes a slider move cost no sort and no binary search.
    With ``submit`` (an executor's), the converted scores are split in two at a group of
    ties and the second part walks on that executor's thread (same result, bit for bit).
    """
    if pos.size == 0 or neg.size == 0 or np.isnan(pos[-1]) or np.isnan(neg[-1]):  # sorting puts NaN last
        return float("nan"), float("nan")  # a NaN score has no rank: no AUC/KS, as with no leads
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    neg = np.ascontiguousarray(neg, dtype=np.float64)
    if submit is None or pos.size < 2:
        auc_value, ks = auc_ks(pos, neg)
        return float(auc_value), float(ks)
    h = int(np.searchsorted(pos, pos[pos.size // 2], side="left"))  # the start of a group of ties
    second = submit(auc_ks_part, pos, neg, h, pos.size)
    below, ties, ks = auc_ks_part(pos, neg, 0, h)
    below_2, ties_2, ks_2 = second.result()
    return float(((below + below_2) + 0.5 * (ties + ties_2)) / (pos.size * neg.size)), float(max(ks, ks_2))


def gini(auc_value: float) -> float:
    """Gini coefficient (accuracy ratio) from AUC."""
    return 2 * auc_value - 1


def ks_statistic(scores: np.ndarray, converted: np.ndarray) -> float:
    """Kolmogorov-Smirnov: max gap of the two classes' cumulative score distributions."""
    return separation(scores, converted)[1]


def status_counts(group: np.ndarray, converted: np.ndarray, mature: np.ndarray, k: int) -> np.ndarray:
    """Leads per group x outcome status (0 immature, 1 mature not converted, 2 converted), one count."""
    mature = np.asarray(mature, dtype=bool)
    status = mature.astype(np.int64) + (np.asarray(converted, dtype=bool) & mature)
    return np.bincount(group.astype(np.int64) * 3 + status, minlength=3 * k).reshape(k, 3)


def band_bounds(cuts: list[float], low: float | None, high: float | None) -> list[tuple]:
    """(low, high) of each band; the open ends take the given bounds (None if unknown)."""
    edges = [low] + list(cuts) + [high]
    return list(zip(edges[:-1], edges[1:]))


def total_bounds(config: ScoringConfig) -> tuple[float | None, float | None]:
    """Bounds of the outer bands: the total cap where set, else open (None)."""
    cap = config.caps.total
    return (cap.min if cap else None), (cap.max if cap else None)


def band_table(total: np.ndarray, band: np.ndarray, converted: np.ndarray, mature: np.ndarray,
               cuts: list[float], low: float | None = None, high: float | None = None) -> list[BandRow]:
    """One row per band, lowest first (see module docstring for the columns' meaning)."""
    k = len(cuts) + 1
    return band_rows(status_counts(band, converted, mature, k), cuts, low, high)


def band_rows(counts: np.ndarray, cuts: list[float], low: float | None = None,
              high: float | None = None) -> list[BandRow]:
    """The band table from counts per band x outcome status (immature, not converted, converted).

    Counts are what a slider move updates incrementally; the table is derived from them.
    """
    k = len(cuts) + 1
    counts = np.asarray(counts).reshape(k, 3)
    leads, conversions, immature = counts[:, 1] + counts[:, 2], counts[:, 2], counts[:, 0]
    total_leads, total_conv = leads.sum(), conversions.sum()
    overall = total_conv / total_leads if total_leads else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(leads > 0, conversions / np.maximum(leads, 1), np.nan)
        lift = rate / overall if overall else np.full(k, np.nan)
        capture = np.cumsum(conversions[::-1])[::-1] / total_conv if total_conv else np.full(k, np.nan)
        share = leads / total_leads if total_leads else np.full(k, np.nan)
    ci_low, ci_high = wilson_interval(conversions, leads)
    rows = []
    for i, (lo, hi) in enumerate(band_bounds(cuts, low, high)):
        rows.append(BandRow(
            band=band_label(lo, hi),
            low=lo,
            high=hi,
            leads=int(leads[i]),
            conversions=int(conversions[i]),
            rate=_num(rate[i]),
            ci_low=_num(ci_low[i]),
            ci_high=_num(ci_high[i]),
            lift=_num(lift[i]),
            share=_num(share[i]),
            capture=_num(capture[i]),
            immature=int(immature[i]),
            small=bool(leads[i] < SMALL_BAND),
        ))
    return rows


def tier_table(tier: np.ndarray, converted: np.ndarray, mature: np.ndarray) -> Tiers:
    """Leads, conversions and rate per tier (mature leads), plus immature counts."""
    return tier_rows(status_counts(tier, converted, mature, 3))


def tier_rows(counts: np.ndarray) -> Tiers:
    """The tier table from counts per tier x outcome status (immature, not converted, converted)."""
    counts = np.asarray(counts).reshape(3, 3)
    leads, conversions, immature = counts[:, 1] + counts[:, 2], counts[:, 2], counts[:, 0]
    rows = [TierRow(leads=int(leads[i]), conversions=int(conversions[i]),
                    rate=_num(conversions[i] / leads[i]) if leads[i] else None, immature=int(immature[i]))
            for i in range(len(TIERS))]
    return Tiers(*rows)


def _num(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:g}"


def band_label(lo: float | None, hi: float | None) -> str:
    if lo is None:
        return f"< {_fmt(hi)}"
    if hi is None:
        return f">= {_fmt(lo)}"
    return f"{_fmt(lo)}–{_fmt(hi)}"
