"""The calibration result of a config on a data source: what `leadcal report` prints.

One function builds the stable JSON form (documented in the README) from config,
features and scores; the CLI and the app both render it, so they never disagree.
"""

from __future__ import annotations

import math

from ..model.config import ScoringConfig
from ..model.engine import Scores, score
from ..model.features import Features
from ..model.kpis import outcome_facts
from ..model.metrics import band_table, gini, separation, tier_table, total_bounds

REPORT_VERSION = 1
NO_TIME_NOTE = ("Note: this data has no creation times, so leads are not scored at a point in time: "
                "every recorded activity counts, and open outcomes are left out as immature.")


def calibration(config: ScoringConfig, features: Features, scores: Scores | None = None,
                known: dict | None = None) -> dict:
    """Band table, AUC/Gini/KS and tiers of a config on mature leads.

    ``known`` may carry ``auc``, ``ks`` and ``bands`` already computed for the same scores
    (they do not depend on the thresholds), so a threshold move skips the sort.
    """
    scores = scores if scores is not None else score(config, features)
    facts = outcome_facts(features)
    if known is None:
        mature = features.mature
        a, ks = separation(scores.total[mature], features.converted[mature])
    else:
        a = float("nan") if known["auc"] is None else known["auc"]
        ks = float("nan") if known["ks"] is None else known["ks"]
    low, high = total_bounds(config)
    known = known or {}
    return {
        "report_version": REPORT_VERSION,
        "model": config.name,
        "leads": int(features.n),
        "mature_leads": facts["mature_leads"],
        "immature_leads": facts["immature_leads"],
        "open_leads": facts["open_leads"],
        "open_counted_lost": facts["open_counted_lost"],
        "conversions": facts["conversions"],
        "conversion_rate": facts["conversion_rate"],
        "auc": None if math.isnan(a) else a,
        "gini": None if math.isnan(a) else gini(a),
        "ks": _none_nan(ks),
        "thresholds": {"mql": config.thresholds.mql, "sql": config.thresholds.sql},
        "bands": known["bands"] if "bands" in known else band_table(
            scores.total, scores.band, features.converted, features.mature, config.bands, low, high),
        "tiers": known["tiers"] if "tiers" in known else tier_table(scores.tier, features.converted, features.mature),
        "data": {
            "point_in_time": features.point_in_time,
            "data_end": features.data_end.isoformat(sep=" "),
            "first_lead": facts["first_lead"],
            "last_lead": facts["last_lead"],
            "scoring_point_days": config.evaluation.scoring_point_days,
            "outcome_window_days": config.evaluation.outcome_window_days,
            "outcome": outcome_form(config),
            "open_lost_after_days": config.source.outcome.open_lost_after_days,
        },
        "quality": features.quality.to_dict(),
    }


def outcome_form(config: ScoringConfig) -> str:
    """'time' (a conversion time alone), 'states' (won / lost / open) or 'states+time' (both)."""
    out = config.source.outcome
    if out.converted is None:
        return "time"
    return "states+time" if out.converted_at is not None else "states"


def outcome_sentence(result: dict) -> str | None:
    """How open leads were counted, in words; None when the outcome is a conversion time alone."""
    open_leads = result.get("open_leads")
    if open_leads is None:
        return None
    days = result["data"].get("open_lost_after_days")
    lost = result.get("open_counted_lost") or 0
    if days is not None:
        return (f"{open_leads:,} leads are still open: {lost:,} open for more than {days:g} days count as lost "
                f"(open_lost_after_days), {open_leads - lost:,} are immature")
    return f"{open_leads:,} leads are still open: immature, never counted as lost"


def _none_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def format_table(result: dict) -> str:
    """A plain-text rendering of a calibration result for the terminal."""
    lines = [
        f"model {result['model']}: {result['leads']:,} leads, {result['mature_leads']:,} mature "
        f"({result['immature_leads']:,} immature, not counted), {result['conversions']:,} conversions"
        + (f" ({result['conversion_rate']:.1%})" if result["conversion_rate"] is not None else ""),
        f"AUC {_f(result['auc'], '.3f')}   Gini {_f(result['gini'], '.3f')}   KS {_f(result['ks'], '.3f')}",
    ]
    if not result["data"].get("point_in_time", True):
        lines.append(NO_TIME_NOTE)
    sentence = outcome_sentence(result)
    if sentence:
        lines.append(sentence)
    lines += [
        "",
        f"{'band':>10} {'leads':>9} {'conv':>7} {'rate':>7} {'95% CI':>15} {'lift':>6} {'share':>6} {'capture':>8}",
    ]
    for row in reversed(result["bands"]):
        ci = f"{_f(row['ci_low'], '.1%')}-{_f(row['ci_high'], '.1%')}" if row["leads"] else ""
        flag = "  (few leads)" if row["small"] else ""
        lines.append(
            f"{row['band']:>10} {row['leads']:>9,} {row['conversions']:>7,} {_f(row['rate'], '.1%'):>7} "
            f"{ci:>15} {_f(row['lift'], '.2f'):>6} {_f(row['share'], '.1%'):>6} "
            f"{_f(row['capture'], '.1%'):>8}{flag}"
        )
    lines += ["", f"{'tier':>10} {'leads':>9} {'conv':>7} {'rate':>7}"]
    th = result["thresholds"]
    names = {"sql": f"SQL >={th['sql']:g}", "mql": f"MQL >={th['mql']:g}", "below_mql": "below MQL"}
    for name in ("sql", "mql", "below_mql"):
        t = result["tiers"][name]
        lines.append(f"{names[name]:>10} {t['leads']:>9,} {t['conversions']:>7,} {_f(t['rate'], '.1%'):>7}")
    findings = result["quality"]["findings"]
    if findings:
        lines += ["", "data quality:"]
        lines += [
            f"  {f['table']}.{f['column']}: {f['count']:,} {f['problem']} ({f['handling']})" for f in findings
        ]
    return "\n".join(lines)


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def data_summary(features: Features) -> dict:
    """The sidebar's facts: leads, mature leads, date range, overall conversion rate."""
    facts = outcome_facts(features)  # counted once per feature set, not on every rerun
    return {
        "leads": int(features.n),
        "mature_leads": facts["mature_leads"],
        "point_in_time": features.point_in_time,
        "first_lead": facts["first_lead"][:10] if facts["first_lead"] else None,
        "last_lead": facts["last_lead"][:10] if facts["last_lead"] else None,
        "data_end": features.data_end.strftime("%Y-%m-%d"),
        "conversions": facts["conversions"],
        "conversion_rate": facts["conversion_rate"],
        "open_leads": facts["open_leads"],
        "findings": len(features.quality.findings),
    }
