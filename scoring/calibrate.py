"""Everything the calibration page shows, computed in one call from two configs.

The page renders this and computes nothing itself, so the CLI and the tests can produce
exactly the numbers on screen.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from .config import ScoringConfig, config_to_dict
from .diff import config_diff
from .engine import CACHE_LOCK, Scores, lead_thresholds, score, tier_index
from .features import Features
from .kpis import (
    DEFAULT_SQL_TARGET,
    MoverGroup,
    default_grid_cuts,
    fit_engagement_grid,
    kpis,
    movers,
    score_histogram,
)
from .report import calibration

SCORED_CACHE = 3
"""Configs whose scores are remembered per feature set (each costs a few arrays of floats)."""


@dataclass
class ModelView:
    """One model's result on the data: scores, band table/metrics, KPIs."""

    config: ScoringConfig
    scores: Scores
    result: dict
    kpis: dict


@dataclass
class CalibrationView:
    """The draft beside the approved model, and what the meeting must not miss."""

    draft: ModelView
    approved: ModelView
    movers: list[MoverGroup]
    grid: list[dict]
    grid_cuts: dict
    histogram: dict
    diff: list[dict]
    warnings: list[str] = field(default_factory=list)


def _rules_key(config: ScoringConfig) -> str:
    """Everything that moves scores, bands, AUC and KS: the config minus its thresholds."""
    data = config_to_dict(config)
    data.pop("thresholds", None)
    for seg in data.get("segments", []):
        seg.pop("thresholds", None)
    return json.dumps(data, sort_keys=True, default=str)


def _scored(config: ScoringConfig, features: Features) -> tuple[Scores, dict | None]:
    """Scores, with AUC/KS/bands remembered per rules on these features (last few configs).

    A threshold move only re-tiers the leads; the sort behind AUC and KS is skipped.
    """
    key = _rules_key(config)
    with CACHE_LOCK:
        cache: OrderedDict = features.__dict__.setdefault("_scored_cache", OrderedDict())
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
    if hit is None:
        return score(config, features), None
    base, known = hit
    mql, sql = lead_thresholds(config, base.segment)
    return replace(base, tier=tier_index(base.total, mql, sql)), known


def _remember(config: ScoringConfig, features: Features, scores: Scores, result: dict) -> None:
    with CACHE_LOCK:
        cache: OrderedDict = features.__dict__.setdefault("_scored_cache", OrderedDict())
        cache[_rules_key(config)] = (scores, {"auc": result["auc"], "ks": result["ks"], "bands": result["bands"]})
        while len(cache) > SCORED_CACHE:
            cache.popitem(last=False)


def model_view(config: ScoringConfig, features: Features,
               sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
               capacity_per_month: float | None = None) -> ModelView:
    """Score one config and compute its band table and KPIs."""
    scores, known = _scored(config, features)
    result = calibration(config, features, scores, known)
    if known is None:
        _remember(config, features, scores, result)
    auc_value = float("nan") if result["auc"] is None else result["auc"]
    return ModelView(config, scores, result, kpis(features, scores, sql_target, capacity_per_month, auc_value))


def warnings_for(view: ModelView, label: str = "draft") -> list[str]:
    """Small bands and capacity overruns, in plain words."""
    out = []
    for band in view.result["bands"]:
        if band["small"] and (band["leads"] or band["immature"]):
            ci = ("" if band["ci_low"] is None else
                  f"; its 95% interval is {band['ci_low']:.0%} to {band['ci_high']:.0%}")
            out.append(f"Band {band['band']} of the {label} has only {band['leads']} mature leads "
                       f"(fewer than 30): its rate is not reliable{ci}.")
    k = view.kpis
    if k["over_capacity"]:
        out.append(f"The {label} MQL threshold passes {k['mql_per_month']:,.0f} leads a month, more than "
                   f"the sales capacity of {k['capacity_per_month']:,.0f}.")
    return out


def calibration_view(draft: ScoringConfig, approved: ScoringConfig, features: Features,
                     sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
                     capacity_per_month: float | None = None,
                     approved_view: ModelView | None = None) -> CalibrationView:
    """Draft vs approved on the same leads (``approved_view`` may be passed in from a cache)."""
    d = model_view(draft, features, sql_target, capacity_per_month)
    a = approved_view or model_view(approved, features, sql_target, capacity_per_month)
    cuts = {"fit": default_grid_cuts(draft, "fit", d.scores.fit),
            "engagement": default_grid_cuts(draft, "engagement", d.scores.engagement)}
    return CalibrationView(
        draft=d,
        approved=a,
        movers=movers(features, a.scores, d.scores),
        grid=fit_engagement_grid(features, d.scores, cuts["fit"], cuts["engagement"]),
        grid_cuts=cuts,
        histogram=score_histogram(d.scores, features),
        diff=config_diff(approved, draft),
        warnings=warnings_for(d),
    )
