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

import numpy as np

from .engine import TIERS

Z95 = 1.959963984540054
SMALL_BAND = 30
"""Bands with fewer mature leads than this are flagged: their rate is noise."""


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


def _grouped(scores: np.ndarray, converted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Converted and not-converted counts per distinct score, ascending."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    pos = np.bincount(inverse, weights=converted.astype(np.float64), minlength=len(counts))
    return pos, counts - pos


def auc(scores: np.ndarray, converted: np.ndarray) -> float:
    """Area under the ROC curve from ranks, ties counted half; NaN with one class."""
    pos, neg = _grouped(np.asarray(scores), np.asarray(converted, dtype=bool))
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    neg_below = np.cumsum(neg) - neg
    return float((pos * (neg_below + 0.5 * neg)).sum() / (n_pos * n_neg))


def separation(scores: np.ndarray, converted: np.ndarray) -> tuple[float, float]:
    """AUC and KS from one sort of the scores (the expensive part of both)."""
    pos, neg = _grouped(np.asarray(scores), np.asarray(converted, dtype=bool))
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan"), float("nan")
    neg_below = np.cumsum(neg) - neg
    auc_value = float((pos * (neg_below + 0.5 * neg)).sum() / (n_pos * n_neg))
    ks = float(np.max(np.abs(np.cumsum(pos) / n_pos - np.cumsum(neg) / n_neg)))
    return auc_value, ks


def gini(auc_value: float) -> float:
    """Gini coefficient (accuracy ratio) from AUC."""
    return 2 * auc_value - 1


def ks_statistic(scores: np.ndarray, converted: np.ndarray) -> float:
    """Kolmogorov-Smirnov: max gap of the two classes' cumulative score distributions."""
    pos, neg = _grouped(np.asarray(scores), np.asarray(converted, dtype=bool))
    n_pos, n_neg = pos.sum(), neg.sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float(np.max(np.abs(np.cumsum(pos) / n_pos - np.cumsum(neg) / n_neg)))


def band_bounds(cuts: list[float], low: float | None, high: float | None) -> list[tuple]:
    """(low, high) of each band; the open ends take the given bounds (None if unknown)."""
    edges = [low] + list(cuts) + [high]
    return list(zip(edges[:-1], edges[1:]))


def band_table(total: np.ndarray, band: np.ndarray, converted: np.ndarray, mature: np.ndarray,
               cuts: list[float], low: float | None = None, high: float | None = None) -> list[dict]:
    """One row per band, lowest first (see module docstring for the columns' meaning)."""
    k = len(cuts) + 1
    mature = np.asarray(mature, dtype=bool)
    conv = np.asarray(converted, dtype=bool) & mature
    leads = np.bincount(band[mature], minlength=k)
    conversions = np.bincount(band[conv], minlength=k)
    immature = np.bincount(band[~mature], minlength=k)
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
        rows.append({
            "band": band_label(lo, hi),
            "low": lo,
            "high": hi,
            "leads": int(leads[i]),
            "conversions": int(conversions[i]),
            "rate": _num(rate[i]),
            "ci_low": _num(ci_low[i]),
            "ci_high": _num(ci_high[i]),
            "lift": _num(lift[i]),
            "share": _num(share[i]),
            "capture": _num(capture[i]),
            "immature": int(immature[i]),
            "small": bool(leads[i] < SMALL_BAND),
        })
    return rows


def tier_table(tier: np.ndarray, converted: np.ndarray, mature: np.ndarray) -> dict[str, dict]:
    """Leads, conversions and rate per tier (mature leads), plus immature counts."""
    mature = np.asarray(mature, dtype=bool)
    conv = np.asarray(converted, dtype=bool) & mature
    leads = np.bincount(tier[mature], minlength=3)
    conversions = np.bincount(tier[conv], minlength=3)
    immature = np.bincount(tier[~mature], minlength=3)
    return {
        name: {
            "leads": int(leads[i]),
            "conversions": int(conversions[i]),
            "rate": _num(conversions[i] / leads[i]) if leads[i] else None,
            "immature": int(immature[i]),
        }
        for i, name in enumerate(TIERS)
    }


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
