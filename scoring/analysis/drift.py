"""Score drift per cohort: is the approved model still describing the leads coming in?

Population stability (PSI) of the score per creation cohort against a reference period,
with bins fixed on the reference (deciles) and empty bins smoothed; the band mix, the
MQL rate, conversion by band and AUC for mature cohorts, and each rule's firing rate
with its own PSI, so ops can see which rule moved.

PSI = sum((A - E) * ln(A / E)); < 0.1 stable, 0.1-0.25 investigate, >= 0.25 shifted.
A cohort is judged on its leads whose scoring point has passed (PSI needs no outcome);
conversion and AUC only once every outcome window of the cohort has passed. Cohorts with
too few scored leads are marked, never judged.

The overall status is the worst score PSI status of the judged cohorts after the
reference; a rule whose own PSI is 'shifted' raises a stable score to 'investigate'
(caps can hide a rule's shift in the total for a while, not for ever).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass

import numpy as np

from ..model.config import EngagementRule, ScoringConfig
from ..model.engine import Scores, engagement_points, fit_points, score
from ..model.features import Features
from ..model.kpis import Rate
from ..model.metrics import auc, band_bounds, band_label, total_bounds, wilson_interval

PSI_INVESTIGATE = 0.10
PSI_SHIFTED = 0.25
PSI_BINS = 10
SMOOTHING = 1e-4
"""Share given to an empty bin, so ln(A / E) stays finite."""
MIN_COHORT = 200
"""Cohorts with fewer scored leads than this are too noisy to judge."""
NOISE_Z = 3.090232306167813
"""Standard normal quantile of 0.999: PSI below its 99.9% sampling-noise bound is not drift."""
CHI2_999 = (10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
            31.264, 32.909)
"""Chi-square 0.999 quantiles for 1-12 degrees of freedom (beyond: Wilson-Hilferty)."""
STATUS_ORDER = {"stable": 0, "investigate": 1, "shifted": 2}


@dataclass(frozen=True)
class Reference:
    """The reference period: its leads, and the score bins fixed on it."""

    start: str
    end: str
    leads: int
    """Scored leads in the period."""
    bin_edges: list[float]
    shares: list[float]
    """Share of the reference's scores per bin."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DriftThresholds:
    """The PSI lines (0.1 investigate, 0.25 shifted) and the least scored leads a judged cohort has."""

    investigate: float
    shifted: float
    min_cohort: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RuleDrift:
    """One rule in one cohort: how often it gives points, and the PSI of its points."""

    firing_rate: float | None
    psi: float | None
    status: str
    """``stable`` / ``investigate`` / ``shifted``, or ``immature`` when the cohort is not judged."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CohortDrift:
    """One creation cohort against the reference (see the module doc for when it is judged)."""

    cohort: str
    """The cohort's first day (ISO date)."""
    leads: int
    scored: int
    """Leads whose scoring point has passed."""
    judged: bool
    mature: bool
    """Every outcome window of the cohort has passed: conversion and AUC are known."""
    in_reference: bool
    psi: float | None
    psi_noise: float
    status: str
    band_mix: list[float]
    """Share of the scored leads per band."""
    mql_rate: float | None
    sql_rate: float | None
    conversion_rate: float | None
    conversion_by_band: list[Rate] | None
    """Mature cohorts only."""
    auc: float | None
    rules: dict[str, RuleDrift]
    """Rule label (``fit: column``, ``engagement: label``) -> its drift."""

    def to_dict(self) -> dict:
        """The documented JSON row (``drift.cohorts[]``)."""
        out = asdict(self)
        out["conversion_by_band"] = (None if self.conversion_by_band is None
                                     else [r.to_dict() for r in self.conversion_by_band])
        out["rules"] = {label: r.to_dict() for label, r in self.rules.items()}
        return out


@dataclass(frozen=True)
class DriftReport:
    """Score drift per cohort against a reference period, and the verdict."""

    model: str
    grain: str
    """``week`` or ``month``."""
    reference: Reference
    thresholds: DriftThresholds
    bands: list[str]
    """Band labels, in the order of ``band_mix`` and ``conversion_by_band``."""
    cohorts: list[CohortDrift]
    status: str
    """The worst score PSI status of the judged cohorts after the reference (see the module doc)."""
    worst_psi: float | None
    rules_shifted: list[str]
    """Rules whose own PSI is shifted in a judged cohort."""
    drift_version: int = 1

    def to_dict(self) -> dict:
        """The documented JSON form (``drift`` of `leadcal drift --format json`)."""
        return {
            "drift_version": self.drift_version,
            "model": self.model,
            "grain": self.grain,
            "reference": self.reference.to_dict(),
            "thresholds": self.thresholds.to_dict(),
            "bands": list(self.bands),
            "cohorts": [c.to_dict() for c in self.cohorts],
            "status": self.status,
            "worst_psi": self.worst_psi,
            "rules_shifted": list(self.rules_shifted),
        }



def psi_noise(bins: int, n: int, n_ref: int) -> float:
    """PSI that sampling alone exceeds 0.1% of the time between two samples of one population.

    Under no drift, PSI is about chi-square with ``bins - 1`` degrees of freedom times
    ``1/n + 1/n_ref``; the chi-square quantile uses the Wilson-Hilferty approximation, so
    small weekly cohorts are not flagged for noise.
    """
    if bins < 2 or n <= 0 or n_ref <= 0:
        return 0.0
    k = bins - 1
    if k <= len(CHI2_999):
        chi2 = CHI2_999[k - 1]
    else:
        chi2 = k * (1 - 2 / (9 * k) + NOISE_Z * math.sqrt(2 / (9 * k))) ** 3
    return chi2 * (1 / n + 1 / n_ref)


def psi_status(value: float | None, noise: float = 0.0) -> str | None:
    """'stable', 'investigate' or 'shifted' (None when there is no PSI).

    A PSI within its sampling noise (``noise``, see ``psi_noise``) is stable.
    """
    if value is None or math.isnan(value):
        return None
    if value <= noise:
        return "stable"
    if value >= PSI_SHIFTED:
        return "shifted"
    return "investigate" if value >= PSI_INVESTIGATE else "stable"


def reference_edges(values: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Interior bin edges fixed on the reference: deciles, or between distinct values.

    A score or rule with few distinct values (e.g. 0 or 20 points) gets one bin per value.
    A value holding a large share (a rule that gives most leads 0 points) gets a bin of its
    own, so a rule that stops or starts firing moves mass between bins; quantile cuts
    falling on such a value would otherwise merge it with its neighbours. Bins left empty
    on the reference are merged away.
    """
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.array([])
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size <= bins:
        return (distinct[:-1] + distinct[1:]) / 2
    heavy = np.flatnonzero(counts >= values.size / bins)
    edges = set(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]).tolist()) - set(distinct[heavy].tolist())
    for j in heavy:
        if j > 0:
            edges.add(float((distinct[j - 1] + distinct[j]) / 2))
        if j < distinct.size - 1:
            edges.add(float((distinct[j] + distinct[j + 1]) / 2))
    out = np.array(sorted(edges))
    while out.size:
        filled = np.bincount(np.searchsorted(out, values, side="right"), minlength=out.size + 1)
        empty = np.flatnonzero(filled == 0)
        if not empty.size:
            break
        out = np.delete(out, min(empty[0], out.size - 1))
    return out


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin (bin i is [edges[i-1], edges[i]))."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def psi(expected: np.ndarray, actual: np.ndarray, smoothing: float = SMOOTHING) -> float:
    """PSI of two share vectors over the same bins; empty bins get ``smoothing``."""
    e = np.where(expected > 0, expected, smoothing)
    a = np.where(actual > 0, actual, smoothing)
    return float(np.sum((a - e) * np.log(a / e)))


def cohort_index(when: np.ndarray, grain: str) -> tuple[np.ndarray, list[dt.date]]:
    """Cohort number of each time and the first day of each cohort (months, or ISO weeks from Monday)."""
    if grain == "month":
        months = when.astype("datetime64[M]").astype(np.int64)
        first = int(months.min())
        starts = [np.datetime64(m, "M").astype("datetime64[D]").astype(dt.date)
                  for m in range(first, int(months.max()) + 1)]
        return months - first, starts
    if grain == "week":
        days = when.astype("datetime64[D]").astype(np.int64)
        weeks = (days + 3) // 7  # 1970-01-01 was a Thursday: shift so weeks start on Monday
        first = int(weeks.min())
        starts = [np.datetime64(w * 7 - 3, "D").astype(dt.date) for w in range(first, int(weeks.max()) + 1)]
        return weeks - first, starts
    raise ValueError(f"grain must be 'week' or 'month', not {grain!r}")


def default_reference(features: Features, approval: dict | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The data the model was approved on, when that was earlier data; else the first six months."""
    if not features.point_in_time:
        raise ValueError("drift compares creation cohorts, but this data has no creation times")
    first = features.created_at.min().astype("datetime64[s]").astype(dt.datetime)
    last = features.created_at.max().astype("datetime64[s]").astype(dt.datetime)
    data = (approval or {}).get("data") or {}
    try:
        a_first = dt.datetime.fromisoformat(str(data["first_lead"]))
        a_last = dt.datetime.fromisoformat(str(data["last_lead"]))
    except (KeyError, ValueError, TypeError):
        a_first = a_last = None
    if a_first is not None and a_last is not None and a_last < last - dt.timedelta(days=27):
        return a_first, a_last + dt.timedelta(seconds=1)
    first = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = first.month - 1 + 6
    end = first.replace(year=first.year + month // 12, month=month % 12 + 1, day=1, hour=0, minute=0,
                        second=0, microsecond=0)
    return first, end


def parse_reference(text: str) -> tuple[dt.datetime, dt.datetime]:
    """``START:END`` (ISO dates) -> datetimes; END is exclusive."""
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        a, b = dt.datetime.fromisoformat(start.strip()), dt.datetime.fromisoformat(end.strip())
    except ValueError:
        raise ValueError(f"--reference {text!r}: write it as START:END with ISO dates, "
                         "e.g. 2025-01-01:2025-07-01") from None
    if not a < b:
        raise ValueError(f"--reference {text!r}: START must be before END")
    return a, b


def _rules(config: ScoringConfig) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = [(f"fit: {r.column}", r) for r in config.fit]
    out += [(f"engagement: {r.label}", r) for r in config.engagement]
    return out


def rule_points(config: ScoringConfig, features: Features) -> dict[str, np.ndarray]:
    """Points each of the model's own rules gives each lead (segments aside)."""
    return {label: (engagement_points(rule, config, features) if isinstance(rule, EngagementRule)
                    else fit_points(rule, features)) for label, rule in _rules(config)}


def drift_report(config: ScoringConfig, features: Features, reference: tuple[dt.datetime, dt.datetime],
                 grain: str = "month", scores: Scores | None = None) -> DriftReport:
    """Per-cohort stability of scores, bands, MQL rate, conversion and rules vs the reference."""
    if not features.point_in_time:
        raise ValueError("drift compares creation cohorts, but this data has no creation times")
    scores = scores if scores is not None else score(config, features)
    data_end = np.datetime64(features.data_end, "us")
    scored = features.scoring_at <= data_end  # its score is final
    ref = ((features.created_at >= np.datetime64(reference[0], "us"))
           & (features.created_at < np.datetime64(reference[1], "us")) & scored)
    if ref.sum() < MIN_COHORT:
        raise ValueError(f"the reference period {reference[0]:%Y-%m-%d} to {reference[1]:%Y-%m-%d} has only "
                         f"{int(ref.sum())} scored leads; choose a longer or earlier period")
    edges = reference_edges(scores.total[ref])
    ref_shares = bin_shares(scores.total[ref], edges)
    points = rule_points(config, features)
    rule_edges = {k: reference_edges(v[ref]) for k, v in points.items()}
    rule_ref = {k: bin_shares(points[k][ref], rule_edges[k]) for k in points}
    n_bands = len(config.bands) + 1
    cohort, starts = cohort_index(features.created_at, grain)
    order = np.argsort(cohort, kind="stable")
    bounds = np.searchsorted(cohort[order], np.arange(len(starts) + 1))
    # bins of every scored lead counted per cohort in one pass per rule (not one search per cohort and rule)
    n_cohorts = len(starts)
    scored_cohort = np.where(scored, cohort, n_cohorts)  # leads not yet scored: a row of their own, unused

    def per_cohort(values: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
        n_bins = len(bin_edges) + 1
        key = scored_cohort * n_bins + np.searchsorted(bin_edges, values, side="right")
        return np.bincount(key, minlength=(n_cohorts + 1) * n_bins).reshape(n_cohorts + 1, n_bins)

    score_counts = per_cohort(scores.total, edges)
    rule_counts = {label: per_cohort(values, rule_edges[label]) for label, values in points.items()}
    firing = {label: np.bincount(scored_cohort[values != 0], minlength=n_cohorts + 1)
              for label, values in points.items()}
    cohorts = []
    for i, start in enumerate(starts):
        idx = order[bounds[i]:bounds[i + 1]]
        if idx.size == 0:
            continue
        s_idx = idx[scored[idx]]
        judged = s_idx.size >= MIN_COHORT
        mature = bool(features.mature[idx].all())
        value = psi(ref_shares, score_counts[i] / s_idx.size) if judged else None
        noise = psi_noise(len(edges) + 1, int(s_idx.size), int(ref.sum()))
        conversion_rate = auc_value = conversion_by_band = None
        if mature:
            y = features.converted[idx]
            conversion_rate = float(y.mean())
            a = auc(scores.total[idx], y)
            auc_value = None if math.isnan(a) else a
            leads = np.bincount(scores.band[idx], minlength=n_bands)
            conv = np.bincount(scores.band[idx][y], minlength=n_bands)
            low, high = wilson_interval(conv, leads)
            conversion_by_band = [Rate(int(n), int(k), float(k / n) if n else None, None if not n else float(lo),
                                       None if not n else float(hi))
                                  for n, k, lo, hi in zip(leads, conv, low, high)]
        rules = {}
        for label in points:
            r_psi = psi(rule_ref[label], rule_counts[label][i] / s_idx.size) if judged else None
            r_noise = psi_noise(len(rule_edges[label]) + 1, int(s_idx.size), int(ref.sum()))
            rules[label] = RuleDrift(firing_rate=float(firing[label][i] / s_idx.size) if s_idx.size else None,
                                     psi=r_psi, status=psi_status(r_psi, r_noise) if judged else "immature")
        row = CohortDrift(
            cohort=start.isoformat(),
            leads=int(idx.size),
            scored=int(s_idx.size),
            judged=judged,
            mature=mature,
            in_reference=bool(ref[idx].any()),
            psi=value,
            psi_noise=noise,
            status=psi_status(value, noise) if judged else "immature",
            band_mix=(np.bincount(scores.band[s_idx], minlength=n_bands) / max(s_idx.size, 1)).tolist(),
            mql_rate=float((scores.tier[s_idx] >= 1).mean()) if s_idx.size else None,
            sql_rate=float((scores.tier[s_idx] >= 2).mean()) if s_idx.size else None,
            conversion_rate=conversion_rate,
            conversion_by_band=conversion_by_band,
            auc=auc_value,
            rules=rules,
        )
        cohorts.append(row)
    judged_rows = [c for c in cohorts if c.judged and not c.in_reference]
    worst = max((c.status for c in judged_rows), key=STATUS_ORDER.get, default="stable")
    moved = sorted({label for c in judged_rows for label, r in c.rules.items() if r.status == "shifted"})
    if moved and worst == "stable":
        worst = "investigate"  # the score holds, but a rule's inputs shifted: look before it shows
    return DriftReport(
        model=config.name,
        grain=grain,
        reference=Reference(start=reference[0].isoformat(sep=" "), end=reference[1].isoformat(sep=" "),
                            leads=int(ref.sum()), bin_edges=edges.tolist(), shares=ref_shares.tolist()),
        thresholds=DriftThresholds(investigate=PSI_INVESTIGATE, shifted=PSI_SHIFTED, min_cohort=MIN_COHORT),
        bands=[f"{b}" for b in _band_labels(config)],
        cohorts=cohorts,
        status=worst,
        worst_psi=max((c.psi for c in judged_rows), default=None),
        rules_shifted=moved,
    )


def _band_labels(config: ScoringConfig) -> list[str]:
    return [band_label(lo, hi) for lo, hi in band_bounds(config.bands, *total_bounds(config))]
