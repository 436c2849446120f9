"""The readout of a champion vs challenger test: per arm, the difference, the split, a plain verdict.

Leads created on or after the test's start are routed by ``scoring.data.routing``; each
arm's tiers are its own model's. Only matured leads count towards a rate (an immature
lead is shown, never counted as lost). The difference of the primary metric is
challenger minus champion with its (1 - alpha) confidence interval (unpooled normal
interval) and the two-sided p-value of the two-proportion z-test (pooled; for revenue
per lead a z-test with unequal variances), as statsmodels computes them.

Fixed horizon: the verdict waits until both arms have the planned sample of matured
units; before that it says "not yet known" and how many more weeks at the current
volume. Looking earlier and stopping on a good day would inflate the false-positive
rate, which is why the plan fixed the sample. A split far from the planned share
(sample-ratio mismatch, chi-square p < 0.001) means the routing is broken: then no
verdict either.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from ..data.routing import challenger_mask
from ..model.engine import Scores
from ..model.features import Features
from ..model.kpis import Rate
from .abtest import METRICS, AbTestPlan

SRM_P = 0.001
"""A split this unlikely under the planned share is a sample-ratio mismatch."""

_N = NormalDist()

BETTER, WORSE, NO_DIFFERENCE, NOT_YET = ("challenger better", "challenger worse", "no clear difference",
                                         "not yet known")


@dataclass(frozen=True)
class ArmResult:
    """One arm of the test so far."""

    arm: str
    """``champion`` or ``challenger``."""
    model: str
    """``NAME@VERSION``."""
    leads: int
    mature_leads: int
    immature_leads: int
    mqls: int
    sqls: int
    conversion: Rate
    """Of the arm's matured leads."""
    mql_conversion: Rate
    """Of its matured MQLs (MQL or SQL by the arm's model)."""
    sql_conversion: Rate
    revenue: float | None
    """Won deal value of its matured leads (None when no deal value is mapped)."""
    revenue_per_lead: float | None
    units: int
    """Matured units of the primary metric (MQLs, SQLs or leads): what the planned sample counts."""
    planned_units: int
    enrolled_units: int
    """Units so far, matured or not."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """Challenger minus champion on the primary metric."""

    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    z: float
    p_value: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SampleRatio:
    """Whether the leads split between the arms as planned (chi-square goodness of fit, 1 df)."""

    planned_share: float
    observed_share: float | None
    chi_square: float | None
    p_value: float | None
    mismatch: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The plain answer and why."""

    verdict: str
    """``challenger better``, ``challenger worse``, ``no clear difference`` or ``not yet known``."""
    reason: str
    weeks_more: float | None
    """Not yet known: about how many more weeks at the current volume until the planned sample has
    matured (None when it cannot be told)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Readout:
    """Everything `leadcal abtest readout` prints and the A/B test page shows."""

    test: str
    plan: AbTestPlan
    data_end: str
    weeks_running: float
    champion: ArmResult
    challenger: ArmResult
    difference: Difference | None
    """None until both arms have a matured unit (and, for rates, some variation)."""
    sample_ratio: SampleRatio
    verdict: Verdict
    sample_reached: bool

    def to_dict(self) -> dict:
        return {
            "test": self.test, "plan": self.plan.to_dict(), "data_end": self.data_end,
            "weeks_running": self.weeks_running, "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
            "difference": None if self.difference is None else self.difference.to_dict(),
            "sample_ratio": self.sample_ratio.to_dict(), "verdict": self.verdict.to_dict(),
            "sample_reached": self.sample_reached,
        }


# --------------------------------------------------------------------------- statistics


def two_proportion(k1: int, n1: int, k2: int, n2: int, alpha: float) -> tuple[float, float, float, float, float]:
    """(difference p2 - p1, CI low, CI high, z, two-sided p) — pooled z-test, unpooled (Wald) interval."""
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (p2 - p1) / se0 if se0 > 0 else 0.0
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    q = _N.inv_cdf(1 - alpha / 2)
    return p2 - p1, p2 - p1 - q * se, p2 - p1 + q * se, z, 2 * _N.cdf(-abs(z)) if se0 > 0 else 1.0


def two_means(x1: np.ndarray, x2: np.ndarray, alpha: float) -> tuple[float, float, float, float, float]:
    """(difference mean2 - mean1, CI low, CI high, z, two-sided p) — z-test with unequal variances."""
    d = float(x2.mean() - x1.mean())
    se = math.sqrt(x1.var(ddof=1) / len(x1) + x2.var(ddof=1) / len(x2))
    q = _N.inv_cdf(1 - alpha / 2)
    z = d / se if se > 0 else 0.0
    return d, d - q * se, d + q * se, z, 2 * _N.cdf(-abs(z)) if se > 0 else 1.0


def sample_ratio(champion_leads: int, challenger_leads: int, share: float) -> SampleRatio:
    """Chi-square test of the observed split against the planned share (scipy's ``chisquare``)."""
    n = champion_leads + challenger_leads
    if n == 0:
        return SampleRatio(share, None, None, None, False)
    expected = (n * (1 - share), n * share)
    chi = sum((o - e) ** 2 / e for o, e in zip((champion_leads, challenger_leads), expected))
    p = math.erfc(math.sqrt(chi / 2))  # chi-square survival function, 1 degree of freedom
    return SampleRatio(share, challenger_leads / n, chi, p, p < SRM_P)


# --------------------------------------------------------------------------- the readout


def _arm(arm: str, model: str, plan: AbTestPlan, tier: np.ndarray, converted: np.ndarray, mature: np.ndarray,
         deal: np.ndarray | None, planned: int) -> tuple[ArmResult, np.ndarray]:
    mql, sql = tier >= 1, tier == 2
    won = converted & mature
    revenue = None if deal is None else float(np.where(won, deal, 0.0).sum())
    n_mature = int(mature.sum())
    unit = {"mql_conversion": mql, "sql_conversion": sql, "revenue_per_lead": np.ones_like(mql)}[plan.metric]
    result = ArmResult(
        arm, model, len(tier), n_mature, len(tier) - n_mature, int(mql.sum()), int(sql.sum()),
        Rate.of(int(won.sum()), n_mature), Rate.of(int((won & mql).sum()), int((mature & mql).sum())),
        Rate.of(int((won & sql).sum()), int((mature & sql).sum())), revenue,
        None if revenue is None or not n_mature else revenue / n_mature,
        int((unit & mature).sum()), planned, int(unit.sum()))
    return result, unit


def _weeks_more(created: np.ndarray, unit: np.ndarray, planned: int, weeks_running: float, end: np.datetime64,
                maturity_days: float) -> float | None:
    """Weeks until the ``planned``-th unit of an arm (by creation) has matured, at the current volume."""
    times = np.sort(created[unit])
    maturity = np.timedelta64(int(maturity_days * 86_400_000_000), "us")
    if len(times) >= planned:
        due = times[planned - 1] + maturity
        return max(0.0, float((due - end) / np.timedelta64(1, "D")) / 7.0)
    if not len(times) or weeks_running <= 0:
        return None
    per_week = len(times) / weeks_running
    return (planned - len(times)) / per_week + maturity_days / 7.0


def readout(plan: AbTestPlan, features: Features, champion: Scores, challenger: Scores,
            deal_value: np.ndarray | None, maturity_days: float) -> Readout:
    """The test so far on ``features`` (both models scored on the same leads)."""
    created = features.created_at.astype("datetime64[us]")
    start = np.datetime64(plan.start, "us")
    end = np.datetime64(features.data_end, "us")
    inside = np.flatnonzero(created >= start)
    weeks = max(0.0, float((end - start) / np.timedelta64(1, "D")) / 7.0)
    to_challenger = challenger_mask(features.lead_id[inside], plan.salt, plan.share)
    arms: dict[str, ArmResult] = {}
    units: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    """arm -> (its leads' positions in ``features``, which of them are units of the primary metric)"""
    for arm, ref, scores, mask, planned in (
            ("champion", plan.champion, champion, ~to_challenger, plan.sample.champion_units),
            ("challenger", plan.challenger, challenger, to_challenger, plan.sample.challenger_units)):
        rows = inside[mask]
        deal = None if deal_value is None else deal_value[rows]
        arms[arm], unit = _arm(arm, ref, plan, scores.tier[rows], features.converted[rows],
                               features.mature[rows], deal, planned)
        units[arm] = (rows, unit)
    a, b = arms["champion"], arms["challenger"]
    srm = sample_ratio(a.leads, b.leads, plan.share)
    diff = _difference(plan, features, units, deal_value)
    reached = a.units >= a.planned_units and b.units >= b.planned_units
    verdict = _verdict(plan, a, b, diff, srm, reached, weeks, created, units, end, maturity_days)
    return Readout(plan.test, plan, str(features.data_end), weeks, a, b, diff, srm, verdict, reached)


def _difference(plan: AbTestPlan, features: Features, units: dict, deal_value: np.ndarray | None) -> Difference | None:
    (rows1, unit1), (rows2, unit2) = units["champion"], units["challenger"]
    m1, m2 = rows1[unit1 & features.mature[rows1]], rows2[unit2 & features.mature[rows2]]
    if not len(m1) or not len(m2):
        return None
    won1, won2 = features.converted[m1], features.converted[m2]
    confidence = 1 - plan.alpha
    if plan.metric == "revenue_per_lead":
        if deal_value is None or len(m1) < 2 or len(m2) < 2:
            return None
        x1, x2 = np.where(won1, deal_value[m1], 0.0), np.where(won2, deal_value[m2], 0.0)
        d, lo, hi, z, p = two_means(x1, x2, plan.alpha)
        return Difference(plan.metric, float(x1.mean()), float(x2.mean()), d, lo, hi, confidence, z, p)
    k1, k2 = int(won1.sum()), int(won2.sum())
    d, lo, hi, z, p = two_proportion(k1, len(m1), k2, len(m2), plan.alpha)
    return Difference(plan.metric, k1 / len(m1), k2 / len(m2), d, lo, hi, confidence, z, p)


def _verdict(plan: AbTestPlan, a: ArmResult, b: ArmResult, diff: Difference | None, srm: SampleRatio,
             reached: bool, weeks: float, created: np.ndarray, units: dict, end: np.datetime64,
             maturity_days: float) -> Verdict:
    unit = METRICS[plan.metric][1]
    if srm.mismatch:
        return Verdict(NOT_YET, f"the leads did not split as planned ({srm.observed_share:.1%} to the challenger, "
                       f"planned {plan.share:.0%}; chi-square p = {srm.p_value:.2g}): routing is broken, so no "
                       "result of this test can be trusted until it is fixed", None)
    if not reached:
        more = [_weeks_more(created[rows], unit_mask, planned, weeks, end, maturity_days)
                for (rows, unit_mask), planned in ((units["champion"], a.planned_units),
                                                   (units["challenger"], b.planned_units))]
        weeks_more = None if any(m is None for m in more) else max(more)
        when = (f"about {math.ceil(weeks_more)} more week(s) at the current volume" if weeks_more is not None
                else "cannot tell when: no such lead has arrived yet")
        return Verdict(NOT_YET, f"fixed-horizon test: the verdict waits for the planned sample of matured {unit} "
                       f"({a.units:,} of {a.planned_units:,} on the champion, {b.units:,} of "
                       f"{b.planned_units:,} on the challenger); {when}", weeks_more)
    assert diff is not None
    if diff.p_value < plan.alpha:
        better = diff.difference > 0
        return Verdict(BETTER if better else WORSE,
                       f"the challenger's {METRICS[plan.metric][0]} is {'higher' if better else 'lower'} than the "
                       f"champion's on the planned sample (p = {diff.p_value:.2g}, below the planned {plan.alpha:g})",
                       0.0)
    return Verdict(NO_DIFFERENCE, f"the planned sample has matured and the difference is not significant "
                   f"(p = {diff.p_value:.2g}); a difference as large as the planned smallest effect would "
                   f"have been found with {plan.power:.0%} probability", 0.0)


def _rate(rate: Rate) -> str:
    if rate.rate is None:
        return "-"
    return f"{rate.rate:.1%} [{rate.ci_low:.1%}-{rate.ci_high:.1%}] of {rate.leads:,}"


def format_readout(r: Readout) -> str:
    """The readout as `leadcal abtest readout` prints it."""
    plan = r.plan
    what, unit = METRICS[plan.metric]
    lines = [
        f"test {r.test}: champion {plan.champion} vs challenger {plan.challenger} "
        f"({plan.share:.0%} of leads from {plan.start}); data up to {r.data_end[:10]}, "
        f"{r.weeks_running:.1f} weeks running",
        f"{'':<28}{'champion':>36}{'challenger':>36}",
    ]

    def row(label: str, a: str, b: str) -> None:
        lines.append(f"{label:<28}{a:>36}{b:>36}")

    a, b = r.champion, r.challenger
    row("leads (matured)", f"{a.leads:,} ({a.mature_leads:,})", f"{b.leads:,} ({b.mature_leads:,})")
    row("MQLs / SQLs", f"{a.mqls:,} / {a.sqls:,}", f"{b.mqls:,} / {b.sqls:,}")
    row("conversion", _rate(a.conversion), _rate(b.conversion))
    row("MQL conversion", _rate(a.mql_conversion), _rate(b.mql_conversion))
    row("SQL conversion", _rate(a.sql_conversion), _rate(b.sql_conversion))
    if a.revenue_per_lead is not None and b.revenue_per_lead is not None:
        row("won revenue per lead", f"{a.revenue_per_lead:,.0f}", f"{b.revenue_per_lead:,.0f}")
    row(f"matured {unit} / planned", f"{a.units:,} / {a.planned_units:,}", f"{b.units:,} / {b.planned_units:,}")
    lines.append("(rates of matured leads, Wilson 95% intervals; immature leads are shown, never counted)")
    d = r.difference
    if d is not None:
        fmt = (lambda x: f"{x:+,.0f}") if plan.metric == "revenue_per_lead" else (lambda x: f"{x * 100:+.1f} points")
        lines.append(f"primary metric, {what}: challenger - champion = {fmt(d.difference)} "
                     f"({d.confidence:.0%} interval {fmt(d.ci_low)} to {fmt(d.ci_high)}; p = {d.p_value:.3g})")
    else:
        lines.append(f"primary metric, {what}: no difference yet (an arm has no matured {unit})")
    s = r.sample_ratio
    if s.p_value is not None:
        lines.append(f"split: {s.observed_share:.1%} of leads to the challenger, planned {s.planned_share:.0%} "
                     f"(chi-square p = {s.p_value:.3g}{'; MISMATCH' if s.mismatch else ''})")
    lines.append(f"verdict: {r.verdict.verdict} - {r.verdict.reason}")
    return "\n".join(lines) + "\n"
