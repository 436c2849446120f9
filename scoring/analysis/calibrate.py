"""Everything the calibration page shows, computed in one call from two configs.

The page renders this and computes nothing itself, so the CLI and the tests can produce
exactly the numbers on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..model.config import ScoringConfig
from ..model.diff import Change, config_diff
from ..model.engine import Scores
from ..model.features import Features
from ..model.kernels import warm_up
from ..model.kpis import (
    DEFAULT_SQL_TARGET,
    GridCell,
    Histogram,
    Kpis,
    MoverGroup,
    default_grid_cuts,
    fit_engagement_grid,
    kpis_from_counts,
    movers,
    score_histogram,
)
from ..model.metrics import band_rows, tier_rows, total_bounds
from ..model.rescore import scored
from .report import CalibrationResult, calibration


@dataclass
class ModelView:
    """One model's result on the data: scores, band table/metrics, KPIs."""

    config: ScoringConfig
    scores: Scores
    result: CalibrationResult
    kpis: Kpis
    sorted_scores: tuple | None = None
    """Sorted total scores of mature converted and other leads (for the histogram), if kept."""


@dataclass(frozen=True)
class GridCuts:
    """Where the fit x engagement grid splits each part: two cut points (thirds of its capped range)."""

    fit: tuple[float, float]
    engagement: tuple[float, float]


@dataclass
class CalibrationView:
    """The draft beside the approved model, and what the meeting must not miss.

    The movers, the fit x engagement grid, the score histogram and the diff are computed when
    first read: the page shows one of them at a time, and at 10M leads each costs tens of
    milliseconds a slider move would otherwise pay for nothing. Read them in the run that
    made the view (the scores they come from are the re-scoring's working arrays).
    """

    draft: ModelView
    approved: ModelView
    features: Features = field(repr=False)
    grid_cuts: GridCuts
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def movers(self) -> list[MoverGroup]:
        """Leads crossing the MQL / SQL line from the approved model to the draft, and how they converted."""
        return movers(self.features, self.approved.scores, self.draft.scores)

    @cached_property
    def grid(self) -> list[GridCell]:
        """Conversion per fit x engagement cell of the draft."""
        return fit_engagement_grid(self.features, self.draft.scores, self.grid_cuts.fit, self.grid_cuts.engagement)

    @cached_property
    def histogram(self) -> Histogram:
        """The draft's score distribution, converted vs not."""
        return score_histogram(self.draft.scores, self.features, sorted_classes=self.draft.sorted_scores)

    @cached_property
    def diff(self) -> list[Change]:
        """What the draft changes against the approved model, rule by rule."""
        return config_diff(self.approved.config, self.draft.config)


def model_view(config: ScoringConfig, features: Features,
               sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
               capacity_per_month: float | None = None) -> ModelView:
    """Score one config and compute its band table and KPIs (reusing recent configs' work)."""
    state = scored(config, features)
    result = calibration(config, features, state.scores, auc_ks=(state.auc, state.ks),
                         bands=band_rows(state.band_counts, config.bands, *total_bounds(config)),
                         tiers=tier_rows(state.tier_counts.sum(axis=0).T))
    return ModelView(config, state.scores, result,
                     kpis_from_counts(state.tier_counts, features.point_in_time, sql_target,
                                      capacity_per_month, state.auc),
                     sorted_scores=(state.pos, state.neg))


def warnings_for(view: ModelView, label: str = "draft") -> list[str]:
    """Small bands and capacity overruns, in plain words."""
    out = []
    for band in view.result.bands:
        if band.small and (band.leads or band.immature):
            ci = ("" if band.ci_low is None else
                  f"; its 95% interval is {band.ci_low:.0%} to {band.ci_high:.0%}")
            out.append(f"Band {band.band} of the {label} has only {band.leads} mature leads "
                       f"(fewer than 30): its rate is not reliable{ci}.")
    k = view.kpis
    if k.over_capacity:
        out.append(f"The {label} MQL threshold passes {k.mql_per_month:,.0f} leads a month, more than "
                   f"the sales capacity of {k.capacity_per_month:,.0f}.")
    return out


def calibration_view(draft: ScoringConfig, approved: ScoringConfig, features: Features,
                     sql_target: tuple[float, float] = DEFAULT_SQL_TARGET,
                     capacity_per_month: float | None = None,
                     approved_view: ModelView | None = None) -> CalibrationView:
    """Draft vs approved on the same leads (``approved_view`` may be passed in from a cache)."""
    d = model_view(draft, features, sql_target, capacity_per_month)
    warm_up(len(draft.engagement))  # the next slider move's compiled loops are ready
    a = approved_view or model_view(approved, features, sql_target, capacity_per_month)
    cuts = GridCuts(fit=default_grid_cuts(draft, "fit", d.scores.fit),
                    engagement=default_grid_cuts(draft, "engagement", d.scores.engagement))
    return CalibrationView(draft=d, approved=a, features=features, grid_cuts=cuts, warnings=warnings_for(d))
