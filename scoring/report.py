"""The calibration result of a config on a data source: what `leadcal report` prints.

One function builds the stable JSON form (documented in the README) from config,
features and scores; the CLI and the app both render it, so they never disagree.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from .config import ScoringConfig
from .engine import Scores, score
from .features import Features
from .metrics import band_table, gini, separation, tier_table

REPORT_VERSION = 1
NO_TIME_NOTE = ("Note: this data has no creation times, so leads are not scored at a point in time: "
                "every recorded activity counts, and open outcomes are left out as immature.")


def total_bounds(config: ScoringConfig) -> tuple[float | None, float | None]:
    """Bounds of the outer bands: the total cap where set, else open (None)."""
    cap = config.caps.total
    return (cap.min if cap else None), (cap.max if cap else None)


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


def outcome_facts(features: Features) -> dict:
    """Mature leads, conversions and date range: facts of the data, counted once per feature set."""
    cached = features.cache.get("outcome_facts")
    if cached is None:
        mature = features.mature
        y = features.converted[mature]
        timed = bool(features.n) and features.point_in_time
        is_open = getattr(features, "open", None)
        cached = {
            "mature_leads": int(mature.sum()),
            "immature_leads": int(features.n - mature.sum()),
            "open_leads": None if is_open is None else int(is_open.sum()),
            "open_counted_lost": None if is_open is None else int((is_open & mature).sum()),
            "conversions": int(y.sum()),
            "conversion_rate": float(y.mean()) if y.size else None,
            "first_lead": _iso(features.created_at.min()) if timed else None,
            "last_lead": _iso(features.created_at.max()) if timed else None,
        }
        features.cache["outcome_facts"] = cached
    return dict(cached)


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


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="s")).replace("T", " ")


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


def data_fingerprint(path: str, features: Features) -> dict:
    """What data a result was computed on: file, row counts, date range."""
    from pathlib import Path

    p = Path(path)
    st = p.stat()
    return {
        "path": str(p.resolve()),
        "size_bytes": st.st_size,
        "modified": dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": dict(features.quality.counts),
        "leads_scored": int(features.n),
        "first_lead": outcome_facts(features)["first_lead"],
        "last_lead": outcome_facts(features)["last_lead"],
        "data_end": features.data_end.isoformat(sep=" "),
    }


def evidence(config: ScoringConfig, db: str) -> tuple[dict, dict, "object"]:
    """The calibration result and KPIs of a config on a database, and the data's fingerprint.

    Recorded with an approval, so the record says what the approvers saw.
    """
    from .calibrate import model_view
    from .features import extract_features
    from .source import open_source

    with open_source(db) as source:
        features = extract_features(source, config)
    view = model_view(config, features)
    return {"result": view.result, "kpis": view.kpis}, data_fingerprint(db, features), (view, features)
