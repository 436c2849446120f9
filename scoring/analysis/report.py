"""The calibration result of a config on a data source: what `leadcal report` prints.

One function builds the stable JSON form (documented in the README) from config,
features and scores; the CLI and the app both render it, so they never disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..model.config import ScoringConfig, Thresholds
from ..model.engine import Scores, score
from ..model.features import Features
from ..model.findings import QualityReport
from ..model.kpis import outcome_facts
from ..model.metrics import BandRow, Tiers, band_table, gini, separation, tier_table, total_bounds
from ..model.accounts import AccountResult, NoAccounts, account_result, accounts_unavailable
from ..model.revenue import NoRevenue, Revenue, revenue
from ..base.numbers import money

REPORT_VERSION = 1
NO_TIME_NOTE = ("Note: this data has no creation times, so leads are not scored at a point in time: "
                "every recorded activity counts, and open outcomes are left out as immature.")


@dataclass(frozen=True)
class DataFacts:
    """What the backtest ran on: the data's dates and the point-in-time settings (``data`` in the JSON)."""

    point_in_time: bool
    """False for data without creation times: nothing is scored as of a moment."""
    data_end: str
    first_lead: str | None
    last_lead: str | None
    scoring_point_days: float
    outcome_window_days: float
    outcome: str
    """``time``, ``states`` or ``states+time`` (``outcome_form``)."""
    open_lost_after_days: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationResult:
    """The calibration result of one model on one data set: what `leadcal report` prints.

    ``to_dict`` is the documented JSON (``report_version`` 1); the page, the HTML report
    and the approval record read the same fields.
    """

    model: str
    leads: int
    mature_leads: int
    immature_leads: int
    open_leads: int | None
    open_counted_lost: int | None
    conversions: int
    conversion_rate: float | None
    auc: float | None
    gini: float | None
    ks: float | None
    thresholds: Thresholds
    bands: list[BandRow]
    """Lowest band first."""
    tiers: Tiers
    data: DataFacts
    quality: QualityReport
    report_version: int = REPORT_VERSION
    revenue: Revenue | NoRevenue | None = None
    """Won revenue per band and tier; None when not asked for (``with_revenue``), so the JSON of
    an approval record and of a slider move stays as it was."""
    accounts: AccountResult | NoAccounts | None = None
    """The account view (``config.accounts``); None without one or when not asked for."""

    def to_dict(self) -> dict:
        """The stable JSON form (the README's table of `leadcal report --format json`)."""
        return {
            "report_version": self.report_version,
            "model": self.model,
            "leads": self.leads,
            "mature_leads": self.mature_leads,
            "immature_leads": self.immature_leads,
            "open_leads": self.open_leads,
            "open_counted_lost": self.open_counted_lost,
            "conversions": self.conversions,
            "conversion_rate": self.conversion_rate,
            "auc": self.auc,
            "gini": self.gini,
            "ks": self.ks,
            "thresholds": {"mql": self.thresholds.mql, "sql": self.thresholds.sql},
            "bands": [b.to_dict() for b in self.bands],
            "tiers": self.tiers.to_dict(),
            "data": self.data.to_dict(),
            "quality": self.quality.to_dict(),
            **({"revenue": self.revenue.to_dict()} if self.revenue is not None else {}),
            **({"accounts": self.accounts.to_dict()} if self.accounts is not None else {}),
        }


def calibration(config: ScoringConfig, features: Features, scores: Scores | None = None, *,
                auc_ks: tuple[float, float] | None = None, bands: list[BandRow] | None = None,
                tiers: Tiers | None = None, with_revenue: bool = False,
                with_accounts: bool = False) -> CalibrationResult:
    """Band table, AUC/Gini/KS and tiers of a config on mature leads.

    ``auc_ks`` (AUC and KS, NaN where there is none), ``bands`` and ``tiers`` may be
    passed when already computed for the same scores (``calibrate.model_view`` keeps them
    up to date per slider move), so nothing is sorted or counted again. ``with_revenue`` adds
    the won revenue figures (``scoring.model.revenue``), ``with_accounts`` the account view when the
    config scores accounts (``scoring.model.accounts``); `leadcal report` prints both.
    """
    scores = scores if scores is not None else score(config, features)
    facts = outcome_facts(features)
    if auc_ks is None:
        mature = features.mature
        auc_ks = separation(scores.total[mature], features.converted[mature])
    a, ks = auc_ks
    low, high = total_bounds(config)
    return CalibrationResult(
        model=config.name,
        leads=int(features.n),
        mature_leads=facts.mature_leads,
        immature_leads=facts.immature_leads,
        open_leads=facts.open_leads,
        open_counted_lost=facts.open_counted_lost,
        conversions=facts.conversions,
        conversion_rate=facts.conversion_rate,
        auc=None if math.isnan(a) else a,
        gini=None if math.isnan(a) else gini(a),
        ks=_none_nan(ks),
        thresholds=config.thresholds,
        bands=bands if bands is not None else band_table(
            scores.total, scores.band, features.converted, features.mature, config.bands, low, high),
        tiers=tiers if tiers is not None else tier_table(scores.tier, features.converted, features.mature),
        data=DataFacts(
            point_in_time=features.point_in_time,
            data_end=features.data_end.isoformat(sep=" "),
            first_lead=facts.first_lead,
            last_lead=facts.last_lead,
            scoring_point_days=config.evaluation.scoring_point_days,
            outcome_window_days=config.evaluation.outcome_window_days,
            outcome=outcome_form(config),
            open_lost_after_days=config.source.outcome.open_lost_after_days,
        ),
        quality=features.quality,  # pending on a first load: whatever reads it waits
        revenue=revenue(config, features, scores) if with_revenue else None,
        accounts=(None if not with_accounts or config.accounts is None
                  else accounts_unavailable(config, features) or account_result(config, features, scores)),
    )


def outcome_form(config: ScoringConfig) -> str:
    """'time' (a conversion time alone), 'states' (won / lost / open) or 'states+time' (both)."""
    out = config.source.outcome
    if out.converted is None:
        return "time"
    return "states+time" if out.converted_at is not None else "states"


def outcome_sentence(result: CalibrationResult) -> str | None:
    """How open leads were counted, in words; None when the outcome is a conversion time alone."""
    open_leads = result.open_leads
    if open_leads is None:
        return None
    days = result.data.open_lost_after_days
    lost = result.open_counted_lost or 0
    if days is not None:
        return (f"{open_leads:,} leads are still open: {lost:,} open for more than {days:g} days count as lost "
                f"(open_lost_after_days), {open_leads - lost:,} are immature")
    return f"{open_leads:,} leads are still open: immature, never counted as lost"


def _none_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def format_table(result: CalibrationResult) -> str:
    """A plain-text rendering of a calibration result for the terminal."""
    lines = [
        f"model {result.model}: {result.leads:,} leads, {result.mature_leads:,} mature "
        f"({result.immature_leads:,} immature, not counted), {result.conversions:,} conversions"
        + (f" ({result.conversion_rate:.1%})" if result.conversion_rate is not None else ""),
        f"AUC {_f(result.auc, '.3f')}   Gini {_f(result.gini, '.3f')}   KS {_f(result.ks, '.3f')}",
    ]
    if not result.data.point_in_time:
        lines.append(NO_TIME_NOTE)
    sentence = outcome_sentence(result)
    if sentence:
        lines.append(sentence)
    lines += [
        "",
        f"{'band':>10} {'leads':>9} {'conv':>7} {'rate':>7} {'95% CI':>15} {'lift':>6} {'share':>6} {'capture':>8}",
    ]
    for row in reversed(result.bands):
        ci = f"{_f(row.ci_low, '.1%')}-{_f(row.ci_high, '.1%')}" if row.leads else ""
        flag = "  (few leads)" if row.small else ""
        lines.append(
            f"{row.band:>10} {row.leads:>9,} {row.conversions:>7,} {_f(row.rate, '.1%'):>7} "
            f"{ci:>15} {_f(row.lift, '.2f'):>6} {_f(row.share, '.1%'):>6} "
            f"{_f(row.capture, '.1%'):>8}{flag}"
        )
    lines += ["", f"{'tier':>10} {'leads':>9} {'conv':>7} {'rate':>7}"]
    th, tiers = result.thresholds, result.tiers
    for name, t in ((f"SQL >={th.sql:g}", tiers.sql), (f"MQL >={th.mql:g}", tiers.mql), ("below MQL", tiers.below_mql)):
        lines.append(f"{name:>10} {t.leads:>9,} {t.conversions:>7,} {_f(t.rate, '.1%'):>7}")
    if result.revenue is not None:
        lines += [""] + format_revenue(result.revenue, result.thresholds)
    if result.accounts is not None:
        lines += [""] + format_accounts(result.accounts)
    quality = result.quality.complete_report()
    if quality.findings or quality.error is not None:
        lines += ["", "data quality:"] + [f"  {m}" for m in quality.messages()]
    return "\n".join(lines)


def format_revenue(rev: Revenue | NoRevenue, thresholds: Thresholds) -> list[str]:
    """The revenue block of the terminal report."""
    if isinstance(rev, NoRevenue):
        return [f"revenue: {rev.reason}"]
    cur = rev.currency
    lines = [f"won revenue {money(rev.won_value, cur)} from {rev.won_deals:,} won deals (mature leads), "
             f"mean {money(rev.mean_deal, cur)}, median {money(rev.median_deal, cur)}, "
             f"value-weighted AUC {_f(rev.weighted_auc, '.3f')}"]
    if rev.without_value:
        lines.append(f"{rev.without_value:,} won deals have no deal value: left out of the revenue figures")
    for name, above, line in (("MQL", rev.mql, thresholds.mql), ("SQL", rev.sql, thresholds.sql)):
        lines.append(f"won revenue >= {name} ({line:g}): {money(above.won_value, cur)} "
                     f"({_f(above.share, '.1%')} of all), {money(above.per_lead, cur)} per {name}")
    lines += ["", f"{'band':>10} {'won':>7} {'won value':>16} {'capture':>8} {'mean deal':>13} {'median deal':>13} "
                  f"{'days':>6} {'from SP':>8}"]
    for row in reversed(rev.bands):
        lines.append(f"{row.band:>10} {row.won_deals:>7,} {money(row.won_value, cur):>16} {_f(row.capture, '.1%'):>8} "
                     f"{money(row.mean_deal, cur):>13} {money(row.median_deal, cur):>13} "
                     f"{_f(row.median_days_from_created, '.0f'):>6} {_f(row.median_days_from_scoring, '.0f'):>8}")
    lines.append("(days: median days to conversion from creation and from the scoring point)")
    return lines


def format_accounts(acc: AccountResult | NoAccounts) -> list[str]:
    """The account block of the terminal report."""
    if isinstance(acc, NoAccounts):
        return [f"accounts: {acc.reason}"]
    lines = [f"accounts ({acc.method}): {acc.accounts:,}, {acc.mature_accounts:,} mature, "
             f"{acc.converted_accounts:,} converted" + (f" ({acc.conversion_rate:.1%})" if acc.conversion_rate else ""),
             f"AUC {_f(acc.auc, '.3f')}   MQA conversion {_f(acc.mqa.rate, '.1%')}   "
             f"converted accounts >= MQA {_f(acc.capture_at_mqa, '.1%')}",
             f"leads: {acc.leads_counted:,} counted, {acc.leads_after:,} scored after their account's scoring point "
             f"(never counted), {acc.leads_without_account:,} without an account",
             "", f"{'band':>10} {'accounts':>9} {'conv':>7} {'rate':>7} {'capture':>8} {'immature':>9}"]
    for row in reversed(acc.bands):
        lines.append(f"{row.band:>10} {row.leads:>9,} {row.conversions:>7,} {_f(row.rate, '.1%'):>7} "
                     f"{_f(row.capture, '.1%'):>8} {row.immature:>9,}")
    return lines


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


@dataclass(frozen=True)
class DataSummary:
    """The sidebar's facts of the data: leads, mature leads, dates, overall conversion."""

    leads: int
    mature_leads: int
    point_in_time: bool
    first_lead: str | None
    last_lead: str | None
    """Dates (``YYYY-MM-DD``) of the first and last lead; None without creation times."""
    data_end: str
    conversions: int
    conversion_rate: float | None
    open_leads: int | None


def data_summary(features: Features) -> DataSummary:
    """The sidebar's facts: leads, mature leads, date range, overall conversion rate."""
    facts = outcome_facts(features)  # counted once per feature set, not on every rerun
    return DataSummary(
        leads=int(features.n),
        mature_leads=facts.mature_leads,
        point_in_time=features.point_in_time,
        first_lead=facts.first_lead[:10] if facts.first_lead else None,
        last_lead=facts.last_lead[:10] if facts.last_lead else None,
        data_end=features.data_end.strftime("%Y-%m-%d"),
        conversions=facts.conversions,
        conversion_rate=facts.conversion_rate,
        open_leads=facts.open_leads,
    )
