"""Won revenue by score band and tier: what a threshold does to the money, not only to lead counts.

A sales VP judges a threshold by revenue. From the mapped deal value
(``source.outcome.deal_value``) this computes, on the **mature** leads only (the band
table's convention), the won value per band, the share of all won value in a band or
above it (revenue capture, like the conversion capture), mean and median deal size,
won revenue and revenue per lead at or above MQL and SQL, the value-weighted AUC (the
chance a unit of won revenue was scored above a lead that did not convert), the median
days to conversion per band (from creation and from the scoring point), and, for two
models on the same leads, the won value that crosses the MQL and SQL lines.

A won deal is a mature lead that converted within its window. One whose value is missing
or negative is counted in ``without_value`` and left out of every value figure (said
where the figures are shown). Without a mapped deal value there are no revenue figures
at all (``NoRevenue`` says why). numpy over the per-lead arrays: a bincount per figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .config import ScoringConfig
from .engine import Scores
from .features import DAY_US, Features
from .metrics import band_bounds, band_label, total_bounds
from .sorting import sort_scores


@dataclass(frozen=True)
class RevenueBand:
    """The won revenue of one score band (mature leads)."""

    band: str
    low: float | None
    high: float | None
    won_deals: int
    """Won deals with a value."""
    won_value: float
    capture: float | None
    """Share of all won value in this band or above; None without won value."""
    mean_deal: float | None
    median_deal: float | None
    timed_deals: int
    """Won deals with a known conversion date (the medians of days are over these)."""
    median_days_from_created: float | None
    median_days_from_scoring: float | None
    """Negative when most deals closed before the scoring point."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RevenueAbove:
    """Won revenue of the mature leads at or above a line (MQL or SQL)."""

    leads: int
    """Mature leads at or above the line."""
    won_deals: int
    won_value: float
    share: float | None
    """Share of all won value (the revenue capture at the line)."""
    per_lead: float | None
    """Won value per mature lead at or above the line (revenue per MQL / per SQL)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Revenue:
    """Won revenue of one model on one data set (``revenue`` of ``leadcal report --format json``)."""

    currency: str | None
    won_value: float
    won_deals: int
    """Mature conversions with a value."""
    without_value: int
    """Mature conversions whose value is missing or negative: counted here, in no value figure."""
    mean_deal: float | None
    median_deal: float | None
    bands: list[RevenueBand]
    """Lowest band first, as the band table."""
    mql: RevenueAbove
    sql: RevenueAbove
    weighted_auc: float | None
    """AUC with each won deal weighted by its value; None without won value or without lost leads."""
    available: bool = True

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bands"] = [b.to_dict() for b in self.bands]
        return out


@dataclass(frozen=True)
class NoRevenue:
    """Why there are no revenue figures (no deal value mapped, or none recorded)."""

    reason: str
    available: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ValueMove:
    """Won value that crosses one line between two models: in (now at or above) and out (now below)."""

    deals_in: int
    value_in: float
    deals_out: int
    value_out: float

    @property
    def net(self) -> float:
        return self.value_in - self.value_out

    def to_dict(self) -> dict:
        return {**asdict(self), "net": self.net}


@dataclass(frozen=True)
class RevenueMoves:
    """Won value moving across the MQL and SQL lines from the approved model to the draft."""

    mql: ValueMove
    sql: ValueMove

    def to_dict(self) -> dict:
        return {"mql": self.mql.to_dict(), "sql": self.sql.to_dict()}


NO_DEAL_VALUE = ("no deal value is mapped (source.outcome.deal_value), so there are no revenue figures; "
                 "map the column that holds each won deal's amount")
NO_VALUES = "no mature won deal has a deal value, so there are no revenue figures"
NOT_READ = ("the deal value is mapped, but these features were computed without it (a warehouse feature set "
            "carries no deal value), so there are no revenue figures")


def _won_with_value(features: Features) -> np.ndarray:
    """Per lead: won within the window, with a deal value that is a number and not negative."""
    value = features.deal_value
    return features.converted & features.mature & np.isfinite(value) & (value >= 0)


def won_values(features: Features) -> tuple[np.ndarray, np.ndarray] | None:
    """(won with a value, the value where so, else 0) per lead; None without a mapped deal value. Kept once."""
    if features.deal_value is None:
        return None
    cached = features.cache.get("won_values")
    if cached is None:
        ok = _won_with_value(features)
        cached = (ok, np.where(ok, features.deal_value, 0.0))
        features.cache["won_values"] = cached
    return cached


def revenue(config: ScoringConfig, features: Features, scores: Scores,
            sorted_lost: np.ndarray | None = None) -> Revenue | NoRevenue:
    """The won revenue of ``scores`` (``config``'s bands and thresholds) on the mature leads.

    ``sorted_lost``: the sorted scores of the mature leads that did not convert, when already kept
    (``ModelView.sorted_scores``): the value-weighted AUC then needs no sort."""
    kept = won_values(features)
    if kept is None:
        return NoRevenue(NOT_READ if config.source.outcome.deal_value is not None else NO_DEAL_VALUE)
    ok, value = kept
    won = features.converted & features.mature
    without = int(np.count_nonzero(won & ~ok))
    if not ok.any():
        return NoRevenue(NO_VALUES + (f" ({without:,} won deals have none)" if without else ""))
    k = len(config.bands) + 1
    band = scores.band.astype(np.int64)
    won_band = band[ok]
    deal = value[ok]
    deals = np.bincount(won_band, minlength=k)
    band_value = np.bincount(won_band, weights=deal, minlength=k)
    total = float(band_value.sum())
    capture = np.cumsum(band_value[::-1])[::-1] / total if total > 0 else np.full(k, np.nan)
    medians = group_medians(won_band, deal, k)
    from_created, from_scoring = days_to_conversion(features, ok)
    timed = ~np.isnan(from_created)
    timed_deals = np.bincount(won_band[timed], minlength=k)
    med_created = group_medians(won_band, from_created, k)
    med_scoring = group_medians(won_band, from_scoring, k)
    bands = []
    for i, (lo, hi) in enumerate(band_bounds(config.bands, *total_bounds(config))):
        bands.append(RevenueBand(
            band=band_label(lo, hi), low=lo, high=hi, won_deals=int(deals[i]), won_value=float(band_value[i]),
            capture=_num(capture[i]), mean_deal=float(band_value[i] / deals[i]) if deals[i] else None,
            median_deal=_num(medians[i]), timed_deals=int(timed_deals[i]),
            median_days_from_created=_num(med_created[i]), median_days_from_scoring=_num(med_scoring[i])))
    mature = features.mature
    return Revenue(
        currency=config.evaluation.currency,
        won_value=total,
        won_deals=int(deal.size),
        without_value=without,
        mean_deal=total / deal.size,
        median_deal=float(np.median(deal)),
        bands=bands,
        mql=_above(scores.tier >= 1, mature, ok, value, total),
        sql=_above(scores.tier >= 2, mature, ok, value, total),
        weighted_auc=weighted_auc(scores.total[mature], features.converted[mature], value[mature], ok[mature],
                                  sorted_lost),
    )


def _above(line: np.ndarray, mature: np.ndarray, ok: np.ndarray, value: np.ndarray, total: float) -> RevenueAbove:
    leads = int(np.count_nonzero(line & mature))
    hit = line & ok
    won = float(value[hit].sum())
    return RevenueAbove(leads=leads, won_deals=int(np.count_nonzero(hit)), won_value=won,
                        share=won / total if total > 0 else None, per_lead=won / leads if leads else None)


def _won_rows(features: Features) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers and values of the won leads with a value (kept once; a deal value is mapped).
    Without ``won_values``' array of one value per lead: at 10M leads that took 0.3 s of the
    first view after a restart."""
    cached = features.cache.get("won_rows")
    if cached is None:
        rows = np.flatnonzero(_won_with_value(features))
        cached = features.cache["won_rows"] = (rows, features.deal_value[rows])
    return cached


def revenue_at(features: Features, tier: np.ndarray, line: int,
               tier_counts: np.ndarray | None = None) -> RevenueAbove | None:
    """Won revenue at or above one line (1 MQL, 2 SQL) alone: the KPI a slider move updates; None without values.

    Reads the tiers of the won leads only, and the mature leads at or above the line from
    ``tier_counts`` (month x outcome status x tier, as ``rescore.Scored`` keeps them) when
    given: at 10M leads the masks over every lead took 20 ms of each move. The same sums as
    :func:`_above` (the won values are added in the same order).
    """
    if features.deal_value is None:
        return None
    rows, values = _won_rows(features)
    total = features.cache.get("won_value_total")
    if total is None:
        total = features.cache["won_value_total"] = float(values.sum())
    hit = tier[rows] >= line
    won = float(values[hit].sum())
    leads = (int(tier_counts[:, 1:, line:].sum()) if tier_counts is not None
             else int(np.count_nonzero((tier >= line) & features.mature)))
    return RevenueAbove(leads=leads, won_deals=int(np.count_nonzero(hit)), won_value=won,
                        share=won / total if total > 0 else None, per_lead=won / leads if leads else None)


def revenue_moves(features: Features, approved: Scores, draft: Scores) -> RevenueMoves | None:
    """Won value crossing the MQL and SQL lines from ``approved`` to ``draft`` (same leads); None without values."""
    kept = won_values(features)
    if kept is None:
        return None
    ok, value = kept

    def move(line: int) -> ValueMove:
        now, before = draft.tier >= line, approved.tier >= line
        gained, lost = ok & now & ~before, ok & before & ~now
        return ValueMove(int(np.count_nonzero(gained)), float(value[gained].sum()),
                         int(np.count_nonzero(lost)), float(value[lost].sum()))

    return RevenueMoves(mql=move(1), sql=move(2))


def weighted_auc(scores: np.ndarray, converted: np.ndarray, value: np.ndarray, ok: np.ndarray,
                 sorted_lost: np.ndarray | None = None) -> float | None:
    """AUC with every won deal weighted by its value and every other lead by 1 (ties count half).

    The chance that a unit of won revenue was scored above a lead that did not convert; the
    same as scikit-learn's ``roc_auc_score`` with those sample weights. Won deals without a
    value are left out. None without won value, without other leads or with a NaN score.
    """
    pos, weight = scores[ok], value[ok]
    neg = sort_scores(scores[~converted]) if sorted_lost is None else sorted_lost
    if neg.size == 0 or weight.sum() <= 0 or np.isnan(neg[-1]) or np.isnan(pos).any():
        return None
    below = np.searchsorted(neg, pos, side="left")
    at_or_below = np.searchsorted(neg, pos, side="right")
    wins = below + 0.5 * (at_or_below - below)
    return float(np.dot(weight, wins) / (weight.sum() * neg.size))


def days_to_conversion(features: Features, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days from creation and from the scoring point to the conversion of ``rows`` (NaN: date not known)."""
    if features.converted_at is None or not features.point_in_time:
        nan = np.full(int(np.count_nonzero(rows)), np.nan)
        return nan, nan.copy()
    conv = features.converted_at[rows]
    known = ~np.isnat(conv)
    out = []
    for start in (features.created_at[rows], features.scoring_at[rows]):
        days = np.full(conv.size, np.nan)
        days[known] = (conv[known] - start[known]).astype("timedelta64[us]").astype(np.int64) / DAY_US
        out.append(days)
    return out[0], out[1]


def group_medians(group: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The median of ``values`` (NaN left out) in each of groups ``0..k-1``, NaN for an empty group; one sort."""
    keep = ~np.isnan(values)
    g, v = group[keep], values[keep]
    order = np.lexsort((v, g))
    v = v[order]
    counts = np.bincount(g, minlength=k)
    starts = np.cumsum(counts) - counts
    out = np.full(k, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2
    return out


def _num(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
