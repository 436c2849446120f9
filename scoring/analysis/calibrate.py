"""Everything the calibration page shows, computed in one call from two configs.

The page renders this and computes nothing itself, so the CLI and the tests can produce
exactly the numbers on screen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

from ..model.config import ScoringConfig
from ..model.diff import Change, config_diff
from ..model.engine import CACHE_LOCK, Scores, engagement_lookups
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
from ..model.rescore import prepare_gather, prepare_moves, scored
from ..model.accounts import (
    AccountDrill,
    AccountResult,
    AccountScores,
    NoAccounts,
    account_drill,
    accounts_unavailable,
    account_result,
    account_scores,
    top_accounts,
)
from ..model.revenue import NoRevenue, Revenue, RevenueAbove, RevenueMoves, revenue, revenue_at, revenue_moves
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
    revenue_at_mql: RevenueAbove | None = None
    """Won revenue at or above MQL (the KPI beside conversions >= MQL); None without a deal value."""


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
                     sorted_scores=(state.pos, state.neg),
                     revenue_at_mql=revenue_at(features, state.scores.tier, 1, state.tier_counts))


@dataclass(frozen=True)
class RevenueView:
    """The Calibrate page's Revenue section: the draft's and the approved model's won revenue, and
    what moves across the lines. Computed only while the section is open (a sort of the lost leads
    for the value-weighted AUC is more than a slider move should pay for)."""

    draft: Revenue | NoRevenue
    approved: Revenue | NoRevenue
    moves: RevenueMoves | None


def revenue_view(view: CalibrationView, features: Features, approved_features: Features | None = None) -> RevenueView:
    """The won revenue of the draft and the approved model on the leads ``view`` was scored on.

    ``approved_features``: the approved model's own (when its evaluation window differs from the
    draft's, its outcomes do too); what moves across the lines is counted on the draft's, as the movers.
    """
    def lost(model: ModelView):
        return None if model.sorted_scores is None else model.sorted_scores[1]

    return RevenueView(draft=revenue(view.draft.config, features, view.draft.scores, lost(view.draft)),
                       approved=revenue(view.approved.config, approved_features or features, view.approved.scores,
                                        lost(view.approved)),
                       moves=revenue_moves(features, view.approved.scores, view.draft.scores))


def small_bands(bands: list, label: str = "draft", unit: str = "leads") -> list[str]:
    """A line for each band with too few mature leads (or accounts) for its rate to be read."""
    out = []
    for band in bands:
        if band.small and (band.leads or band.immature):
            ci = ("" if band.ci_low is None else
                  f"; its 95% interval is {band.ci_low:.0%} to {band.ci_high:.0%}")
            out.append(f"Band {band.band} of the {label} has only {band.leads} mature {unit} "
                       f"(fewer than 30): its rate is not reliable{ci}.")
    return out


def warnings_for(view: ModelView, label: str = "draft") -> list[str]:
    """Small bands and capacity overruns, in plain words."""
    out = small_bands(view.result.bands, label)
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
    prepare_moves_soon(features, d)  # ... and the memory its new scores go to
    a = approved_view or model_view(approved, features, sql_target, capacity_per_month)
    cuts = GridCuts(fit=default_grid_cuts(draft, "fit", d.scores.fit),
                    engagement=default_grid_cuts(draft, "engagement", d.scores.engagement))
    return CalibrationView(draft=d, approved=a, features=features, grid_cuts=cuts, warnings=warnings_for(d))


def prepare_moves_soon(features: Features, view: ModelView) -> threading.Thread | None:
    """Once per set of leads, in the background: where each lead is in the view's activities
    (``engine.engagement_lookups``, which a first points move on a rule reads), memory for its
    gathered activities (``rescore.prepare_gather``) and for the first slider moves' new scores
    (``rescore.prepare_moves``); the thread, or None when it was started before."""
    with CACHE_LOCK:
        if features.cache.get("moves_prepared") or view.sorted_scores is None:
            return None
        features.cache["moves_prepared"] = True
    thread = threading.Thread(target=_prepare_moves, args=(features, view), name="leadcal-prepare-moves",
                              daemon=True)
    thread.start()
    return thread


def _prepare_moves(features: Features, view: ModelView) -> None:
    engagement_lookups(view.config, features)
    prepare_gather(view.config, features)
    prepare_moves(features, view.scores, *view.sorted_scores)


@dataclass(frozen=True)
class AccountView:
    """The Calibrate page's account view: the draft's account table and KPIs beside the approved model's."""

    draft: AccountResult
    approved: AccountResult | None
    """None when the approved model scores no accounts."""
    top: list[str]
    """The best-scored accounts of the draft (the drill-down's choices)."""
    scores: AccountScores
    """The draft's account scores (the drill-down reads them)."""
    warnings: list[str] = field(default_factory=list)
    """Account bands too small for their rate to be read, in plain words."""


def account_view(view: CalibrationView, features: Features,
                 approved_features: Features | None = None) -> AccountView | NoAccounts:
    """The account results of the draft and the approved model (the draft must score accounts), or why none.

    The approved model's result is kept on its features, so a slider move recomputes the draft's only.
    """
    missing = accounts_unavailable(view.draft.config, features)
    if missing is not None:
        return missing
    acc = account_scores(view.draft.config, features, view.draft.scores.total)
    draft = account_result(view.draft.config, features, view.draft.scores, acc)
    approved = None
    config = view.approved.config
    if (config.accounts is not None and config.source.leads.account is not None
            and accounts_unavailable(config, approved_features or features) is None):
        on = approved_features or features
        key = ("approved_accounts", config.model_dump_json(), id(view.approved.scores.total))
        approved = on.cache.get(key)
        if approved is None:
            stale = [k for k in on.cache if isinstance(k, tuple) and k and k[0] == "approved_accounts"]
            for k in stale:  # one approved model at a time
                del on.cache[k]
            approved = on.cache[key] = account_result(config, on, view.approved.scores)
    return AccountView(draft, approved, top_accounts(view.draft.config, features, view.draft.scores, acc=acc), acc,
                       small_bands(draft.bands, unit="accounts"))


def drill(view: CalibrationView, features: Features, account: str,
          account_view: AccountView | None = None) -> AccountDrill | None:
    """One account of the draft with all its leads (which count, their scores)."""
    return account_drill(view.draft.config, features, view.draft.scores, account,
                         account_view.scores if account_view is not None else None)
