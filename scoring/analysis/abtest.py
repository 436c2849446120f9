"""Champion vs challenger: the test plan, its sample size and how long it will take.

A backtest says how a draft would have done on last year's leads; a test says how it
does on next month's. The plan fixes before the first lead is routed: which approved
champion and which challenger version, the share of new leads routed to the challenger,
the one primary metric, the smallest effect worth detecting, the significance level and
power. From last year's volumes and rates it computes the sample each arm needs and how
many weeks that takes (fixed horizon: the verdict waits for that sample, so looking
early cannot inflate the false-positive rate).

Power is the standard normal approximation of two independent samples (the same as
statsmodels' ``NormalIndPower``; tests check it): for rates the effect size is Cohen's
h = 2·asin(√p₁) − 2·asin(√p₀), for revenue per lead d = effect / standard deviation.
The arms' sample sizes are in the ratio of their weekly volumes, so both arms reach
their sample in the same week.

The metrics, each counted on *matured* leads only (their outcome window has passed):
``mql_conversion`` (share of the arm's MQLs that converted; unit: MQLs),
``sql_conversion`` (of its SQLs; unit: SQLs), ``revenue_per_lead`` (won deal value per
lead; unit: leads). A lead's tier is the one of its arm's model.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from ..data.deals import deal_values
from ..data.extract import extract_features
from ..data.routing import check_salt
from ..data.source import Source
from ..model.config import ScoringConfig
from ..model.engine import Scores, score
from ..model.features import Features, feature_spec, union_spec

METRICS = {
    "mql_conversion": ("conversion of MQLs", "MQLs"),
    "sql_conversion": ("conversion of SQLs", "SQLs"),
    "revenue_per_lead": ("won revenue per lead", "leads"),
}
"""Primary metric -> (what it means, the unit a sample is counted in)."""

BASELINE_DAYS = 365
"""Last year's leads (before the test starts) give the volumes and rates of the plan."""

_N = NormalDist()


# --------------------------------------------------------------------------- power


def proportion_effect_size(target: float, base: float) -> float:
    """Cohen's h of a rate ``target`` against ``base`` (statsmodels' ``proportion_effectsize``)."""
    return 2.0 * math.asin(math.sqrt(target)) - 2.0 * math.asin(math.sqrt(base))


def power_of(effect_size: float, n1: float, ratio: float, alpha: float) -> float:
    """Two-sided power of a z-test of two independent samples of ``n1`` and ``ratio * n1``."""
    z = _N.inv_cdf(1.0 - alpha / 2.0)
    shift = abs(effect_size) * math.sqrt(1.0 / (1.0 / n1 + 1.0 / (ratio * n1)))
    return _N.cdf(shift - z) + _N.cdf(-shift - z)


def solve_n1(effect_size: float, alpha: float, power: float, ratio: float) -> float:
    """The (fractional) size of the first sample that reaches ``power`` (both tails counted)."""
    if effect_size == 0 or not math.isfinite(effect_size):
        raise ValueError("the smallest effect worth detecting must be a non-zero number")
    z_a, z_b = _N.inv_cdf(1.0 - alpha / 2.0), _N.inv_cdf(power)
    guess = ((z_a + z_b) / effect_size) ** 2 * (1.0 + 1.0 / ratio)  # one tail; the other only adds power
    lo, hi = guess * 0.5, guess * 1.01
    while power_of(effect_size, hi, ratio, alpha) < power:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if power_of(effect_size, mid, ratio, alpha) < power:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    return hi


# --------------------------------------------------------------------------- last year's volumes


@dataclass(frozen=True)
class ModelVolume:
    """One model on last year's leads: weekly volumes and the rates of its tiers (matured leads)."""

    leads_per_week: float
    mqls_per_week: float
    sqls_per_week: float
    mql_conversion: float | None
    sql_conversion: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Baseline:
    """What the plan's sample size is computed from: last year's leads before the test starts."""

    period_start: str
    period_end: str
    weeks: float
    leads: int
    mature_leads: int
    champion: ModelVolume
    challenger: ModelVolume
    revenue_per_lead: float | None
    """Mean won deal value per matured lead (None when no deal value is mapped)."""
    revenue_sd: float | None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["champion"], out["challenger"] = self.champion.to_dict(), self.challenger.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Baseline":
        return cls(**{**data, "champion": ModelVolume(**data["champion"]),
                      "challenger": ModelVolume(**data["challenger"])})


def _volume(scores: Scores, converted: np.ndarray, mature: np.ndarray, weeks: float) -> ModelVolume:
    mql, sql = scores.tier >= 1, scores.tier == 2

    def rate(mask: np.ndarray) -> float | None:
        n = int((mask & mature).sum())
        return float((mask & mature & converted).sum()) / n if n else None

    return ModelVolume(len(mql) / weeks, float(mql.sum()) / weeks, float(sql.sum()) / weeks, rate(mql), rate(sql))


def baseline(features: Features, champion: Scores, challenger: Scores, start: dt.date,
             deal_value: np.ndarray | None) -> Baseline:
    """Volumes and rates of both models on the leads created in the year before ``start``.

    ``deal_value``: won deal value per lead (0 where none), aligned with ``features``.
    """
    created = features.created_at.astype("datetime64[us]")
    end = min(np.datetime64(start, "us"), np.datetime64(features.data_end, "us"))
    begin = end - np.timedelta64(BASELINE_DAYS, "D")
    window = (created >= begin) & (created < end)
    if window.any():
        begin = max(begin, created[window].min())
    days = (end - begin) / np.timedelta64(1, "D")
    if not window.any() or days < 7:
        raise ValueError(f"no week of leads before the test's start ({start}) to plan it on; "
                         "the plan needs last year's volumes and rates")
    weeks = float(days) / 7.0
    sub = np.flatnonzero(window)
    converted, mature = features.converted[sub], features.mature[sub]

    def pick(s: Scores) -> Scores:
        return Scores(s.fit[sub], s.engagement[sub], s.total[sub], s.band[sub], s.tier[sub], s.segment[sub])

    revenue = sd = None
    if deal_value is not None and mature.any():
        won = np.where(converted & mature, deal_value[sub], 0.0)[mature]
        revenue, sd = float(won.mean()), float(won.std(ddof=1)) if won.size > 1 else None
    return Baseline(str(np.datetime64(begin, "D")), str(np.datetime64(end, "D")), weeks, int(window.sum()),
                    int(mature.sum()), _volume(pick(champion), converted, mature, weeks),
                    _volume(pick(challenger), converted, mature, weeks), revenue, sd)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SampleSize:
    """How many units each arm needs for the planned power, and how long that takes."""

    metric: str
    unit: str
    baseline_value: float
    """The champion's value of the metric last year (a rate, or revenue per lead)."""
    target_value: float
    """The challenger's value the test must be able to detect (baseline + smallest effect)."""
    effect_size: float
    """Cohen's h for rates, d for revenue per lead."""
    ratio: float
    """Challenger units per champion unit (their weekly volumes in the planned split)."""
    champion_units: int
    challenger_units: int
    champion_units_per_week: float
    challenger_units_per_week: float
    weeks_to_enrol: float
    """Weeks until both arms have their sample, at last year's volume."""
    weeks_to_result: float
    """Weeks to enrol plus the scoring point and outcome window: when the last outcome is known."""

    def to_dict(self) -> dict:
        return asdict(self)


def sample_size(metric: str, base: Baseline, share: float, min_effect: float, alpha: float, power: float,
                maturity_days: float) -> SampleSize:
    """The sample per arm and the duration of a test of ``metric`` (``min_effect`` in the metric's units:
    rate points as a fraction, e.g. 0.03, or money per lead)."""
    if metric not in METRICS:
        raise ValueError(f"primary metric {metric!r}: choose one of {', '.join(METRICS)}")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha (significance level) must be between 0 and 0.5, got {alpha}")
    if not 0.5 <= power < 1.0:
        raise ValueError(f"power must be at least 0.5 and below 1, got {power}")
    if not 0.0 < share < 1.0:
        raise ValueError(f"share routed to the challenger must be between 0 and 1 (exclusive), got {share}")
    if not math.isfinite(min_effect) or min_effect == 0:
        raise ValueError("the smallest effect worth detecting (--min-effect) must be a non-zero number")
    champ, chal = base.champion, base.challenger
    if metric == "revenue_per_lead":
        if base.revenue_per_lead is None or not base.revenue_sd:
            raise ValueError("primary metric revenue_per_lead needs won deal values: map source.outcome.deal_value")
        value, sd = base.revenue_per_lead, base.revenue_sd
        target, effect = value + min_effect, min_effect / sd
        per_week = (champ.leads_per_week, chal.leads_per_week)
    else:
        value = champ.mql_conversion if metric == "mql_conversion" else champ.sql_conversion
        if value is None:
            raise ValueError(f"no matured {METRICS[metric][1]} of the champion last year: no rate to plan on")
        target = value + min_effect
        if not 0.0 < target < 1.0:
            raise ValueError(f"{METRICS[metric][0]}: {value:.1%} + {min_effect:+.1%} is not a rate between 0 and 1; "
                             "give the smallest effect as a fraction, e.g. 0.03 for 3 points")
        effect = proportion_effect_size(target, value)
        per_week = ((champ.mqls_per_week, chal.mqls_per_week) if metric == "mql_conversion"
                    else (champ.sqls_per_week, chal.sqls_per_week))
    champ_week, chal_week = (1.0 - share) * per_week[0], share * per_week[1]
    if champ_week <= 0 or chal_week <= 0:
        raise ValueError(f"last year one of the models had no {METRICS[metric][1]}: no sample can be planned")
    ratio = chal_week / champ_week
    n1 = solve_n1(effect, alpha, power, ratio)
    weeks = n1 / champ_week
    return SampleSize(metric, METRICS[metric][1], value, target, effect, ratio, math.ceil(n1),
                      math.ceil(n1 * ratio), champ_week, chal_week, weeks, weeks + maturity_days / 7.0)


@dataclass(frozen=True)
class AbTestPlan:
    """A champion vs challenger test as fixed before it starts (what the store records and signs)."""

    test: str
    champion: str
    """``NAME@VERSION`` of the approved champion."""
    challenger: str
    share: float
    """Share of new leads routed to the challenger."""
    metric: str
    min_effect: float
    alpha: float
    power: float
    salt: str
    """Mixed into the routing hash: a new test gets a split independent of earlier ones."""
    start: str
    """ISO date: leads created on or after it are in the test."""
    baseline: Baseline
    sample: SampleSize

    def to_dict(self) -> dict:
        out = asdict(self)
        out["baseline"], out["sample"] = self.baseline.to_dict(), self.sample.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "AbTestPlan":
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k not in ("baseline", "sample")}
        return cls(**fields, baseline=Baseline.from_dict(data["baseline"]), sample=SampleSize(**data["sample"]))


def maturity_days(config: ScoringConfig) -> float:
    """Days from a lead's creation until its outcome is known (scoring point + outcome window)."""
    return float(config.evaluation.scoring_point_days) + float(config.evaluation.outcome_window_days)


def format_plan(plan: AbTestPlan) -> str:
    """The plan as the CLI prints it."""
    s, b = plan.sample, plan.baseline
    what, unit = METRICS[plan.metric]

    def value(x: float) -> str:
        return f"{x:,.0f} per lead" if plan.metric == "revenue_per_lead" else f"{x:.1%}"

    effect = (f"{plan.min_effect:+,.0f} per lead" if plan.metric == "revenue_per_lead"
              else f"{plan.min_effect * 100:+.1f} points")
    lines = [
        f"test {plan.test}: champion {plan.champion} vs challenger {plan.challenger}",
        f"  routing: {plan.share:.0%} of leads created from {plan.start} to the challenger (salt {plan.salt})",
        f"  primary metric: {what}; smallest effect worth detecting {effect} "
        f"({value(s.baseline_value)} -> {value(s.target_value)})",
        f"  alpha {plan.alpha:g} (two-sided), power {plan.power:.0%}",
        f"  last year ({b.period_start} to {b.period_end}, {b.weeks:.1f} weeks) in this split: "
        f"{s.champion_units_per_week:,.1f} {unit}/week to the champion, {s.challenger_units_per_week:,.1f} "
        "to the challenger",
        f"  sample: {s.champion_units:,} {unit} on the champion, {s.challenger_units:,} on the challenger",
        f"  expected duration: {s.weeks_to_enrol:.1f} weeks to enrol at last year's volume, results "
        f"{s.weeks_to_result:.1f} weeks after the start (the outcome window must pass)",
        "  fixed horizon: no verdict before the planned sample has matured",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- both models on the same leads


@dataclass
class BothScored:
    """Both models scored on the very same leads (one extraction), with won deal values where mapped."""

    features: Features
    champion: Scores
    challenger: Scores
    deal_value: np.ndarray | None


def score_both(source: Source, champion: ScoringConfig, challenger: ScoringConfig) -> BothScored:
    """Read the leads once for both models; ValueError when they do not read the same data the same way."""
    spec = union_spec(feature_spec(champion), feature_spec(challenger))
    if spec is None:
        raise ValueError("the challenger reads other data or measures the outcome differently from the champion "
                         "(its source mapping or evaluation differs); a test compares both on the same leads and "
                         "the same outcome")
    if not spec.mapping.point_in_time:
        raise ValueError("a test routes the leads created from its start date, but this data has no creation "
                         "time (source.leads.created_at)")
    features = extract_features(source, spec)
    return BothScored(features, score(champion, features), score(challenger, features),
                    deal_values(source, champion.source, features.lead_id))


def make_plan(test: str, champion_ref: str, challenger_ref: str, champion: ScoringConfig, data: BothScored,
              share: float, metric: str, min_effect: float, alpha: float, power: float, salt: str,
              start: dt.date) -> AbTestPlan:
    """The plan of a test, its sample size computed from last year's leads before ``start``."""
    check_salt(salt)
    base = baseline(data.features, data.champion, data.challenger, start, data.deal_value)
    sample = sample_size(metric, base, share, min_effect, alpha, power, maturity_days(champion))
    return AbTestPlan(test, champion_ref, challenger_ref, float(share), metric, float(min_effect), float(alpha),
                    float(power), salt, start.isoformat(), base, sample)
