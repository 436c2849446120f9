"""The drift check ops schedule: score drift plus data quality, one status, one exit code.

Exit codes (stable, for schedulers): 0 stable; 1 investigate (a cohort's score PSI in
0.1-0.25, a rule's own PSI >= 0.25, or a data-quality alarm); 2 shifted (a cohort's score
PSI >= 0.25); 3 unchecked (no cohort after the reference period has enough scored leads
to judge: the check could not tell, which a scheduler must not read as stable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..data.extract import extract_features
from ..data.source import open_source
from ..model.config import ScoringConfig
from .dataquality import COMPLETENESS_ALARM, QualityByCohort, quality_report
from .drift import DriftReport, default_reference, drift_report

EXIT = {"stable": 0, "investigate": 1, "shifted": 2, "unchecked": 3}
MONITOR_VERSION = 1


@dataclass(frozen=True)
class MonitorResult:
    """The scheduled check's result: one status and exit code, why, and the drift and quality behind them."""

    model: str
    status: str
    """``stable``, ``investigate``, ``shifted`` or ``unchecked``."""
    exit_code: int
    reasons: list[str]
    """One line per finding that set the status."""
    drift: DriftReport
    quality: QualityByCohort
    data_end: str
    monitor_version: int = MONITOR_VERSION

    def to_dict(self) -> dict:
        """The documented JSON form of `leadcal drift --format json`."""
        return {"monitor_version": self.monitor_version, "model": self.model, "status": self.status,
                "exit_code": self.exit_code, "reasons": list(self.reasons), "drift": self.drift.to_dict(),
                "quality": self.quality.to_dict(), "data_end": self.data_end}


def monitor(config: ScoringConfig, db: str, reference: tuple[dt.datetime, dt.datetime] | None = None,
            grain: str = "month", approval: dict | None = None,
            completeness_alarm: float = COMPLETENESS_ALARM) -> MonitorResult:
    """Drift and data quality of a config on a database, with the overall status and exit code."""
    with open_source(db) as source:
        features = extract_features(source, config)
        if features.n == 0:  # nothing to put in cohorts: say so, not a numpy error
            raise ValueError(f"{db}: no lead could be scored (the leads table is empty or no lead has a creation "
                             "time), so there is nothing to check for drift")
        quality = quality_report(source, config, features, grain, completeness_alarm)
    return assemble(config, features, quality, reference, grain, approval)


def assemble(config: ScoringConfig, features, quality: QualityByCohort, reference=None, grain: str = "month",
             approval: dict | None = None) -> MonitorResult:
    """Combine a drift report and a quality report into the monitor's result (``approval``: the record the
    registry keeps of the version's approval, whose data is the default reference)."""
    reference = reference or default_reference(features, approval)
    drift = drift_report(config, features, reference, grain)
    status = drift.status
    if quality.alarms and status == "stable":
        status = "investigate"
    reasons = []
    for c in drift.cohorts:
        if c.judged and not c.in_reference and c.status in ("investigate", "shifted"):
            reasons.append(f"{c.cohort}: score PSI {c.psi:.3f} ({c.status})")
    reasons += [f"rule '{r}' shifted (its own PSI >= 0.25)" for r in drift.rules_shifted]
    reasons += [a.message for a in quality.alarms]
    if not any(c.judged and not c.in_reference for c in drift.cohorts):
        status = "unchecked"
        reasons.insert(0, "no cohort after the reference period has enough scored leads to judge "
                          "(the data ends too soon after it): drift could not be checked")
    return MonitorResult(model=config.name, status=status, exit_code=EXIT[status], reasons=reasons, drift=drift,
                         quality=quality, data_end=features.data_end.isoformat(sep=" "))


def format_text(result: MonitorResult) -> str:
    """A terminal rendering: status, reasons, then the cohort table."""
    d = result.drift
    lines = [f"model {result.model}: {result.status.upper()} (exit {result.exit_code})",
             f"reference {d.reference.start[:10]} to {d.reference.end[:10]} "
             f"({d.reference.leads:,} leads), {d.grain}ly cohorts, data to {result.data_end[:10]}"]
    lines += [f"  - {r}" for r in result.reasons]
    rules = list(d.cohorts[0].rules) if d.cohorts else []
    lines += ["", f"{'cohort':<11} {'leads':>7} {'PSI':>6} {'status':<11} {'MQL%':>5} {'conv%':>6} {'AUC':>5}"
              "  rules moved"]
    for c in d.cohorts:
        moved = [r.split(": ", 1)[1] for r in rules if c.rules[r].status in ("investigate", "shifted")]
        status = c.status + ("*" if c.in_reference else "")
        lines.append(f"{c.cohort:<11} {c.leads:>7,} {_f(c.psi, '.3f'):>6} {status:<11} "
                     f"{_f(c.mql_rate, '.1%'):>5} {_f(c.conversion_rate, '.1%'):>6} "
                     f"{_f(c.auc, '.3f'):>5}  {', '.join(moved)}")
    lines.append("(* reference period; 'immature': too few scored leads to judge)")
    return "\n".join(lines)


def _f(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


STATUS_COLOUR = {"stable": "#d8f0d8", "investigate": "#fff0c2", "shifted": "#f8d0d0", "immature": "#eeeeee"}


def format_html(result: MonitorResult) -> str:
    """A small standalone HTML page of the check, PSI cells coloured by status."""
    from html import escape

    d = result.drift
    rules = list(d.cohorts[0].rules) if d.cohorts else []
    head = "".join(f"<th>{escape(h)}</th>" for h in
                   ["cohort", "leads", "score PSI", "status", "MQL rate", "conversion", "AUC"]
                   + [r.split(": ", 1)[1] + " PSI" for r in rules])
    body = []
    for c in d.cohorts:
        cells = [escape(c.cohort + (" (reference)" if c.in_reference else "")), f"{c.leads:,}",
                 _f(c.psi, ".3f"), escape(c.status), _f(c.mql_rate, ".1%"),
                 _f(c.conversion_rate, ".1%"), _f(c.auc, ".3f")]
        colours = [None, None, STATUS_COLOUR.get(c.status), STATUS_COLOUR.get(c.status), None, None, None]
        for r in rules:
            cells.append(_f(c.rules[r].psi, ".3f"))
            colours.append(STATUS_COLOUR.get(c.rules[r].status))
        body.append("<tr>" + "".join(
            f"<td style='background:{col}'>{v}</td>" if col else f"<td>{v}</td>" for v, col in zip(cells, colours))
            + "</tr>")
    reasons = "".join(f"<li>{escape(r)}</li>" for r in result.reasons) or "<li>nothing to report</li>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>leadcal drift: {escape(result.model)}"
            "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
            f"<h1>Drift check: {escape(result.model)} — {escape(result.status)}</h1>"
            f"<p>Reference {escape(d.reference.start[:10])} to {escape(d.reference.end[:10])}, "
            f"{escape(d.grain)}ly cohorts, data to {escape(result.data_end[:10])}. "
            "PSI &lt; 0.1 stable, 0.1–0.25 investigate, ≥ 0.25 shifted.</p>"
            f"<ul>{reasons}</ul><table><tr>{head}</tr>{''.join(body)}</table></body></html>")
