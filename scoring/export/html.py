"""A standalone HTML calibration report of one config version, for the meeting's record.

One self-contained file: inline CSS, plotly.js embedded once (inline), no fonts, links or
scripts from the network, so it opens offline years later and prints on paper. It is
rendered from the typed results (``analysis.report.calibration``, ``model.kpis``: KPIs, the
grid and the histogram), so it shows exactly the numbers the app and the CLI show and
computes none of its own. The version, its approval and the data fingerprint are records
(as the registry stores them), rendered key by key.

Configs, notes, names and category values come from users: every such string goes
through :func:`html.escape` before it reaches the page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable
from typing import Any

from .. import __version__
from ..analysis.report import CalibrationResult
from ..model.config import (
    CategoricalFit,
    EngagementRule,
    ExponentialDecay,
    LinearDecay,
    NumericFit,
    ScoringConfig,
    Segment,
    WindowDecay,
    dump_config,
)
from ..model.kpis import GridCell, Histogram, Kpis

DASH = "–"
"""Shown where a number does not exist (no mature leads, one class only)."""

PLOT_CONFIG = {"responsive": True, "displaylogo": False}
"""Plotly config of every chart: no link to plotly.com in the mode bar."""

PRINT_WIDTH = 700
"""Width in CSS pixels the charts are laid out at while printing (A4 / Letter portrait)."""


# --------------------------------------------------------------------------- formatting


def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage ('12.3%'), or a dash."""
    return DASH if x is None or _nan(x) else f"{x:.{digits}%}"


def fmt_ci(low: float | None, high: float | None) -> str:
    """A 95% interval as '8.1%–15.2%', or a dash."""
    if low is None or high is None or _nan(low) or _nan(high):
        return DASH
    return f"{low:.1%}{DASH}{high:.1%}"


def fmt_int(n: int | None) -> str:
    """A count with thousands separators."""
    return DASH if n is None else f"{int(n):,}"


def fmt_num(x: float | None, spec: str = ".3f") -> str:
    """A number in the given format, or a dash."""
    return DASH if x is None or _nan(x) else format(x, spec)


def fmt_points(x: float | None) -> str:
    """Points with their sign ('+15', '-10', '0')."""
    if x is None:
        return DASH
    return "0" if x == 0 else f"{x:+g}"


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def _plain(value: Any) -> str:
    """Readable text of a fingerprint or approval value (not yet escaped)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return DASH if math.isnan(value) else f"{value:,.6g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _label(key: Any) -> str:
    """A dict key as a heading ('first_lead' -> 'first lead')."""
    return str(key).replace("_", " ")


def _decay_text(decay: Any) -> str:
    if isinstance(decay, ExponentialDecay):
        return f"exponential: an event counts half after {decay.half_life_days:g} days"
    if isinstance(decay, LinearDecay):
        return f"linear: an event fades to nothing over {decay.lifespan_days:g} days"
    if isinstance(decay, WindowDecay):
        return f"window: only the last {decay.days:g} days count"
    return "none: every event counts fully, however old"


def _range_text(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "any value"
    if low is None:
        return f"below {high:g}"
    if high is None:
        return f"{low:g} or more"
    return f"{low:g} to under {high:g}"


# --------------------------------------------------------------------------- HTML pieces


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, cls: str = "", table_id: str = "",
           row_classes: Iterable[str] | None = None, foot: Iterable[str] | None = None,
           numeric: Iterable[int] | None = None) -> str:
    """A table; ``headers`` and ``rows`` are already-escaped HTML fragments.

    ``numeric`` lists the right-aligned columns (default: all but the first).
    """
    headers = list(headers)
    right = set(range(1, len(headers)) if numeric is None else numeric)
    num = lambda i: ' class="num"' if i in right else ""
    attrs = (f' id="{table_id}"' if table_id else "") + (f' class="{cls}"' if cls else "")
    ths = "".join(f'<th{num(i)} scope="col">{h}</th>' for i, h in enumerate(headers))
    out = [f'<div class="scroll"><table{attrs}><thead><tr>{ths}</tr></thead><tbody>']
    classes = list(row_classes) if row_classes is not None else None
    for r, row in enumerate(rows):
        rc = f' class="{classes[r]}"' if classes and classes[r] else ""
        tds = "".join(f"<td{num(i)}>{cell}</td>" for i, cell in enumerate(row))
        out.append(f"<tr{rc}>{tds}</tr>")
    out.append("</tbody>")
    if foot is not None:
        tds = "".join(f"<td{num(i)}>{cell}</td>" for i, cell in enumerate(foot))
        out.append(f"<tfoot><tr>{tds}</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


def _kv_table(items: Iterable[tuple[str, str]], table_id: str = "") -> str:
    """A two-column key/value table; keys and values already escaped."""
    attrs = f' id="{table_id}"' if table_id else ""
    rows = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in items)
    return f'<table class="kv"{attrs}><tbody>{rows}</tbody></table>'


def _section(section_id: str, title: str, body: str, note: str = "") -> str:
    lead = f'<p class="lead">{note}</p>' if note else ""
    return f'<section id="{section_id}"><h2>{title}</h2>{lead}{body}</section>'


def _card(key: str, label: str, value: str, detail: str = "", tone: str = "") -> str:
    cls = f"kpi {tone}".strip()
    det = f'<div class="detail">{detail}</div>' if detail else ""
    return (f'<div class="{cls}" data-kpi="{key}"><div class="label">{label}</div>'
            f'<div class="value">{value}</div>{det}</div>')


# --------------------------------------------------------------------------- sections


def _header(config: ScoringConfig, version: dict | None, approval: dict | None) -> tuple[str, str]:
    version = version or {}
    name = version.get("name") or config.name
    number = version.get("version")
    title = f"{name}" + (f" v{number}" if number not in (None, "") else "")
    status = _status(approval)
    badge_cls = "approved" if status == "approved" else "draft"
    meta = []
    for key, label in (("author", "author"), ("created_at", "created"), ("parent", "based on")):
        if version.get(key) not in (None, ""):
            meta.append(f"<span><b>{esc(label)}</b> {esc(_plain(version[key]))}</span>")
    if name != config.name:
        meta.append(f"<span><b>config name</b> {esc(config.name)}</span>")
    parts = [
        '<header class="top">',
        '<div class="eyebrow">Lead-scoring calibration report</div>',
        f'<h1><span id="model-title">{esc(title)}</span> '
        f'<span class="status {badge_cls}" id="status">{esc(status)}</span></h1>',
    ]
    if config.description:
        parts.append(f'<p class="description">{esc(config.description)}</p>')
    if meta:
        parts.append(f'<p class="meta">{"".join(meta)}</p>')
    if version.get("note") not in (None, ""):
        parts.append(f'<div class="note" id="version-note"><b>Note</b><p>{esc(version["note"])}</p></div>')
    if status != "approved":
        parts.append('<p class="warning-line">Draft: this version has not been approved and is not the '
                     "model used in production.</p>")
    parts.append("</header>")
    return "".join(parts), title


def _status(approval: dict | None) -> str:
    if not approval:
        return "draft"
    explicit = approval.get("status")
    return str(explicit) if explicit not in (None, "") else "approved"


def _summary(config: ScoringConfig, result: CalibrationResult, kpis: Kpis) -> str:
    """Plain sentences for the reader who looks at nothing else."""
    th = result.thresholds
    lines = [
        f"Backtest on {fmt_int(result.leads)} leads, {fmt_int(result.mature_leads)} of them mature "
        f"(their outcome window has passed): {fmt_int(result.conversions)} converted "
        f"({fmt_pct(result.conversion_rate)}).",
    ]
    if result.immature_leads:
        lines.append(f"{fmt_int(result.immature_leads)} recent leads are still inside their outcome window: "
                     "they are shown, never counted as lost.")
    mql = kpis.mql
    per_month = "" if kpis.mql_per_month is None else f", about {kpis.mql_per_month:,.0f} a month"
    if not result.data.point_in_time:
        lines.append("This data has no creation times, so leads are not scored at a point in time: "
                     "every recorded activity counts.")
    lines.append(
        f"Leads scoring {th.mql:g} or more (MQLs{per_month}) converted at "
        f"{fmt_pct(mql.rate)} and hold {fmt_pct(kpis.capture_at_mql)} of all conversions."
    )
    sql = kpis.sql
    target = kpis.sql_target
    on = kpis.sql_on_target
    tgt = ""
    if len(target) == 2:
        verdict = "" if on is None else (", on target" if on else ", off target")
        tgt = f" (target {100 * target[0]:g}%{DASH}{100 * target[1]:g}%{verdict})"
    lines.append(f"Leads scoring {th.sql:g} or more (sales-ready) converted at {fmt_pct(sql.rate)}{tgt}.")
    small = [b.band for b in result.bands if b.small and (b.leads or b.immature)]
    if small:
        lines.append("Bands with fewer than 30 mature leads (rates not reliable): "
                     + ", ".join(esc(s) for s in small) + ".")
    if kpis.over_capacity:
        lines.append(f"The MQL threshold passes more leads a month than the sales capacity of "
                     f"{kpis.capacity_per_month:,.0f}.")
    if any(seg.thresholds is not None for seg in config.segments):
        lines.append("Some segments set their own MQL and SQL thresholds (see the model below); the MQL and SQL "
                     "figures use each lead's own thresholds.")
    items = "".join(f"<li>{line}</li>" for line in lines)
    return f'<ul class="summary" id="summary">{items}</ul>'


def _kpi_cards(result: CalibrationResult, kpis: Kpis) -> str:
    mql, sql = kpis.mql, kpis.sql
    target = kpis.sql_target
    on = kpis.sql_on_target
    sql_detail = f"95% CI {fmt_ci(sql.ci_low, sql.ci_high)}<br>{fmt_int(sql.conversions)} of " \
                 f"{fmt_int(sql.leads)} mature SQLs"
    if len(target) == 2:
        verdict = "" if on is None else (" · on target" if on else " · off target")
        sql_detail += f"<br>target {100 * target[0]:g}%{DASH}{100 * target[1]:g}%{verdict}"
    per_month = (lambda v: "–" if v is None else f"{v:,.0f}")  # noqa: E731 - no months without times
    mql_month_detail = f"SQLs per month {per_month(kpis.sql_per_month)}"
    if kpis.capacity_per_month is not None:
        mql_month_detail += f"<br>sales capacity {kpis.capacity_per_month:,.0f}"
    cards = [
        _card("auc", "AUC", fmt_num(kpis.auc), "0.5 = coin flip, 1 = perfect ranking"),
        _card("gini", "Gini", fmt_num(kpis.gini), "2 × AUC − 1"),
        _card("ks", "KS", fmt_num(result.ks), "largest gap, converted vs not"),
        _card("mql_per_month", "MQLs per month", per_month(kpis.mql_per_month), mql_month_detail,
              "bad" if kpis.over_capacity else ""),
        _card("mql_rate", "MQL conversion", fmt_pct(mql.rate),
              f"95% CI {fmt_ci(mql.ci_low, mql.ci_high)}<br>{fmt_int(mql.conversions)} of "
              f"{fmt_int(mql.leads)} mature MQLs"),
        _card("sql_rate", "SQL conversion", fmt_pct(sql.rate), sql_detail,
              "" if on is None else ("good" if on else "bad")),
        _card("capture_at_mql", "Conversions at or above MQL", fmt_pct(kpis.capture_at_mql),
              "share of all conversions the MQL line catches"),
    ]
    return f'<div class="kpis" id="kpis">{"".join(cards)}</div>'


def _charts(result: CalibrationResult, histogram: Histogram | None, grid: list[GridCell] | None,
            status: str = "draft") -> str:
    from . import charts  # plotly is heavy; only imported when a report is rendered

    figures = [("band-chart", "Conversion by score band",
                "Line: conversion rate of mature leads per band, with its 95% interval shaded. "
                "Bars: mature leads per band. Vertical lines: the MQL and SQL thresholds.",
                charts.band_chart(result, draft_label=status))]
    if histogram and histogram.edges:
        figures.append(("distribution-chart", "Score distribution, converted vs not converted",
                        "Share of each group per score; the further apart, the better the score separates.",
                        charts.distribution_chart(histogram)))
    if grid:
        figures.append(("grid-chart", "Fit × engagement grid",
                        "Conversion rate per cell: fit A (best) to C, engagement 1 (most) to 3, "
                        "each split in thirds of its capped range.",
                        charts.grid_chart(grid)))
    out = []
    for i, (div_id, title, caption, fig) in enumerate(figures):
        body = fig.to_html(full_html=False, include_plotlyjs=(i == 0), include_mathjax=False,
                           div_id=div_id, config=PLOT_CONFIG)
        out.append(f'<figure class="chart"><figcaption><b>{esc(title)}</b> {esc(caption)}</figcaption>'
                   f"{body}</figure>")
    return "".join(out)


def _band_table(result: CalibrationResult) -> str:
    th = result.thresholds
    headers = ["Band", "Mature leads", "Conversions", "Rate", "95% CI", "Lift", "Share of leads",
               "Capture (≥ band)", "Immature", "Reliability"]
    rows, classes = [], []
    for b in result.bands:
        rows.append([
            esc(b.band),
            fmt_int(b.leads),
            fmt_int(b.conversions),
            fmt_pct(b.rate),
            fmt_ci(b.ci_low, b.ci_high),
            fmt_num(b.lift, ".2f"),
            fmt_pct(b.share),
            fmt_pct(b.capture),
            fmt_int(b.immature),
            '<span class="flag">few leads</span>' if b.small else "",
        ])
        low = b.low
        cls = []
        if low is not None and low >= th.sql:
            cls.append("sql")
        elif low is not None and low >= th.mql:
            cls.append("mql")
        if b.small:
            cls.append("small")
        classes.append(" ".join(cls))
    foot = ["All", fmt_int(result.mature_leads), fmt_int(result.conversions),
            fmt_pct(result.conversion_rate), "", "1.00" if result.conversions else DASH,
            fmt_pct(1.0) if result.mature_leads else DASH, fmt_pct(1.0) if result.conversions else DASH,
            fmt_int(result.immature_leads), ""]
    table = _table(headers, rows, table_id="band-table", row_classes=classes, foot=foot, numeric=range(1, 9))
    note = (f"Lowest band first. Rates count mature leads only; immature leads are shown apart. "
            f"Lift = band rate ÷ overall rate; capture = share of all conversions in this band or above. "
            f"Shaded: at or above MQL ({th.mql:g}); darker: at or above SQL ({th.sql:g}). "
            f"“Few leads”: fewer than 30 mature leads, the rate is noise.")
    return _section("bands", "Conversion by score band", table, esc(note))


def _tiers_table(result: CalibrationResult) -> str:
    th, tiers = result.thresholds, result.tiers
    rows = []
    for name, t in ((f"Sales-ready (SQL, ≥ {th.sql:g})", tiers.sql), (f"MQL ({th.mql:g} to under {th.sql:g})", tiers.mql),
                    (f"Below MQL (< {th.mql:g})", tiers.below_mql)):
        rows.append([esc(name), fmt_int(t.leads), fmt_int(t.conversions), fmt_pct(t.rate), fmt_int(t.immature)])
    table = _table(["Tier", "Mature leads", "Conversions", "Rate", "Immature"], rows, table_id="tier-table")
    return _section("tiers", "Tiers", table)


def _fit_rule(rule: Any) -> str:
    if isinstance(rule, CategoricalFit):
        rows = [[esc(value), fmt_points(pts)] for value, pts in rule.points.items()]
        rows.append(["<i>any other value</i>", fmt_points(rule.other)])
        rows.append(["<i>missing</i>", fmt_points(rule.missing)])
        head = f"<h4>{esc(rule.column)} <span class=\"kind\">categorical</span></h4>"
        return f'<div class="rule">{head}{_table(["Value", "Points"], rows, cls="compact")}</div>'
    if isinstance(rule, NumericFit):
        rows = [[esc(_range_text(b.min, b.max)), fmt_points(b.points)] for b in rule.bins]
        rows.append(["<i>outside every range</i>", fmt_points(rule.other)])
        rows.append(["<i>missing</i>", fmt_points(rule.missing)])
        head = f"<h4>{esc(rule.column)} <span class=\"kind\">numeric</span></h4>"
        return f'<div class="rule">{head}{_table(["Range", "Points"], rows, cls="compact")}</div>'
    return f'<div class="rule"><pre>{esc(rule)}</pre></div>'  # pragma: no cover - future rule types


def _fit_rules(rules: list) -> str:
    if not rules:
        return '<p class="muted">No fit rules.</p>'
    return f'<div class="rules">{"".join(_fit_rule(r) for r in rules)}</div>'


def _engagement_rules(config: ScoringConfig, rules: list[EngagementRule]) -> str:
    if not rules:
        return '<p class="muted">No engagement rules.</p>'
    rows = []
    for r in rules:
        if r.column:
            source = f"column <code>{esc(r.column)}</code>"
            per = "per unit"
            decay = "no decay (activity column)"
        else:
            source = ", ".join(f"<code>{esc(e)}</code>" for e in r.events)
            per = "per event"
            decay = esc(_decay_text(r.decay)) if r.decay is not None else "model default"
        cap = DASH if r.cap is None else (f"adds at most {r.cap:g}" if r.points >= 0 else f"takes at most {r.cap:g}")
        rows.append([esc(r.label), source, f"{fmt_points(r.points)} {per}", esc(cap), decay])
    return _table(["Rule", "Counts", "Points", "Cap", "Decay"], rows, cls="compact", numeric=())


def _model(config: ScoringConfig) -> str:
    ev = config.evaluation
    caps_rows = []
    for part in ("fit", "engagement", "total"):
        cap = getattr(config.caps, part)
        caps_rows.append([esc(part), fmt_num(cap.min if cap else None, "g"), fmt_num(cap.max if cap else None, "g")])
    basics = _kv_table([
        ("Thresholds", f"MQL at {config.thresholds.mql:g} or more · sales-ready (SQL) at "
                       f"{config.thresholds.sql:g} or more"),
        ("Evaluation", f"each lead is scored {ev.scoring_point_days:g} days after creation (only earlier events "
                       f"count); converted = converted within {ev.outcome_window_days:g} days after that"),
        ("Decay", esc(_decay_text(config.decay))),
        ("Band cut points", esc(", ".join(f"{b:g}" for b in config.bands))),
    ], table_id="model-basics")
    parts = [
        basics,
        "<h3>Caps</h3>",
        _table(["Part", "Min", "Max"], caps_rows, cls="compact", table_id="caps"),
        "<h3>Fit: who the lead is</h3>",
        _fit_rules(config.fit),
        "<h3>Engagement: what the lead did</h3>",
        _engagement_rules(config, config.engagement),
        "<h3>Segments</h3>",
        _segments(config),
    ]
    return _section("model", "The model", "".join(parts),
                    "Points add up to a fit score and an engagement score, each capped, then to a total.")


def _segment_filter(seg: Segment) -> str:
    f = seg.filter
    if f.values is not None:
        return f"<code>{esc(f.column)}</code> is one of " + ", ".join(f"<b>{esc(v)}</b>" for v in f.values)
    return f"<code>{esc(f.column)}</code> {esc(_range_text(f.min, f.max))}"


def _segments(config: ScoringConfig) -> str:
    if not config.segments:
        return '<p class="muted">None: one set of rules for every lead.</p>'
    out = ['<p class="muted">The first matching segment\'s rules apply; parts it leaves out use the '
           "model's.</p>"]
    for seg in config.segments:
        body = [f'<div class="segment"><h4>{esc(seg.name)}</h4><p>Leads where {_segment_filter(seg)}.</p>']
        if seg.thresholds is not None:
            body.append(f"<p>Thresholds: MQL at {seg.thresholds.mql:g}, SQL at {seg.thresholds.sql:g}.</p>")
        else:
            body.append("<p>Thresholds: the model's.</p>")
        if seg.fit is not None:
            body.append("<h5>Fit rules</h5>" + _fit_rules(seg.fit))
        else:
            body.append("<p>Fit rules: the model's.</p>")
        if seg.engagement is not None:
            body.append("<h5>Engagement rules</h5>" + _engagement_rules(config, seg.engagement))
        else:
            body.append("<p>Engagement rules: the model's.</p>")
        body.append("</div>")
        out.append("".join(body))
    return "".join(out)


def _approval(approval: dict | None) -> str:
    """Who signed as what and when, and why: a table and the rationale (no raw record)."""
    if not approval:
        return _section("approval", "Approval",
                        '<p class="warning-line" id="not-approved">Not approved: this is a draft.</p>')
    from ..registry.audit import local_time

    parts = []
    when = approval.get("approved_at")
    if when:
        parts.append(f'<p id="approved-on">Approved on <b>{esc(local_time(when))}</b>.</p>')
    signoffs = [s for s in approval.get("signoffs") or [] if isinstance(s, dict)]
    if signoffs:
        rows = [[esc(_plain(s.get("name"))), esc(_plain(s.get("role"))), esc(local_time(s.get("at") or when))]
                for s in signoffs]
        parts.append("<h3>Signed off by</h3>" + _table(["Name", "Signed as", "When"], rows, table_id="signoffs",
                                                       numeric=()))
    if approval.get("rationale"):
        parts.append(f'<h3>Why</h3><blockquote id="rationale">{esc(approval["rationale"])}</blockquote>')
    return _section("approval", "Approval", "".join(parts))


def fingerprint_line(data: dict) -> str:
    """The data a result was computed on, in one line (not yet escaped)."""
    from ..registry.audit import local_time

    words = []
    if data.get("path"):
        words.append(f"{data['path']}")
    if data.get("leads_scored") is not None:
        span = ""
        if data.get("first_lead") and data.get("last_lead"):
            span = f", created {str(data['first_lead'])[:10]} to {str(data['last_lead'])[:10]}"
        words.append(f"{_plain(data['leads_scored'])} leads scored{span}")
    if data.get("data_end"):
        words.append(f"data up to {str(data['data_end'])[:10]}")
    if data.get("size_bytes") is not None:
        modified = f", modified {local_time(data['modified'])}" if data.get("modified") else ""
        words.append(f"file of {data['size_bytes'] / 1e6:,.1f} MB{modified}")
    known = {"path", "leads_scored", "first_lead", "last_lead", "data_end", "size_bytes", "modified", "rows"}
    words += [f"{_label(k)} {_plain(v)}" for k, v in data.items() if k not in known]
    return " · ".join(words)


def _data(result: CalibrationResult, data: dict | None) -> str:
    parts = []
    if data:
        parts.append(f'<p id="data-fingerprint"><b>Data:</b> {esc(fingerprint_line(data))}</p>')
    facts = result.data.to_dict()
    if facts:
        labels = {"data_end": "data end", "first_lead": "first lead", "last_lead": "last lead",
                  "scoring_point_days": "scoring point (days after creation)",
                  "outcome_window_days": "outcome window (days)"}
        parts.append("<h3>Backtest</h3>" + _kv_table(
            [(esc(labels.get(k, _label(k))), esc(_plain(v))) for k, v in facts.items()], table_id="backtest"))
    return _section("data", "Data", "".join(parts)) if parts else ""


def _quality(result: CalibrationResult) -> str:
    quality = result.quality.complete_report()
    parts = []
    rows = quality.counts
    if rows:
        parts.append('<p class="muted">Rows read: '
                     + ", ".join(f"{esc(t)} {fmt_int(n)}" for t, n in rows.items()) + ".</p>")
    findings = quality.findings
    if findings:
        parts.append(_table(
            ["Where", "Rows", "Problem", "What leadcal does"],
            [[f"<code>{esc(f.table)}.{esc(f.column)}</code>", fmt_int(f.count), esc(f.problem),
              esc(f.handling)] for f in findings],
            table_id="quality", numeric=(1,)))
    elif quality.error is not None:  # unknown, not clean
        parts.append(f'<p id="quality-error">The data-quality checks could not run: {esc(quality.error)}</p>')
    else:
        parts.append('<p id="quality-clean">No data-quality problems found.</p>')
    return _section("quality", "Data quality", "".join(parts),
                    "Messy data is reported, not fatal, and never silently dropped.")


# --------------------------------------------------------------------------- the page


CSS = """
:root { --ink:#1b2330; --muted:#5b6675; --line:#d5dbe3; --soft:#f3f5f8; --blue:#1f4e9c;
        --mql:#e8effa; --sql:#cddcf3; --good:#1e7b3c; --bad:#b3261e; --amber:#9a5b00; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; max-width: 1180px; padding: 28px 32px 40px; color: var(--ink);
       font: 17px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 34px; margin: 4px 0 8px; line-height: 1.2; }
h2 { font-size: 25px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 3px solid var(--blue); }
h3 { font-size: 19px; margin: 22px 0 8px; }
h4 { font-size: 17px; margin: 0 0 6px; }
h5 { font-size: 16px; margin: 12px 0 6px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em;
       background: var(--soft); padding: 0 4px; border-radius: 3px; }
.eyebrow { text-transform: uppercase; letter-spacing: .08em; color: var(--muted); font-size: 14px; }
.status { display: inline-block; vertical-align: middle; font-size: 16px; font-weight: 700; letter-spacing: .05em;
          text-transform: uppercase; padding: 4px 12px; border-radius: 999px; border: 2px solid; }
.status.approved { color: var(--good); border-color: var(--good); background: #e7f4ec; }
.status.draft { color: var(--amber); border-color: var(--amber); background: #fff3e0; }
.description { font-size: 19px; margin: 4px 0; }
.meta { color: var(--muted); margin: 6px 0; }
.meta span { margin-right: 22px; }
.note { background: var(--soft); border-left: 4px solid var(--blue); padding: 8px 14px; margin: 10px 0; }
.note p, blockquote { white-space: pre-wrap; margin: 4px 0; }
blockquote { border-left: 4px solid var(--line); padding: 6px 14px; margin: 8px 0; font-size: 18px; }
.warning-line { color: var(--amber); font-weight: 600; }
.lead, .muted { color: var(--muted); }
ul.summary { font-size: 18px; padding-left: 22px; }
ul.summary li { margin: 4px 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; margin: 16px 0; }
.kpi { border: 1px solid var(--line); border-top: 5px solid var(--blue); border-radius: 6px; padding: 10px 14px;
       break-inside: avoid; }
.kpi.good { border-top-color: var(--good); } .kpi.bad { border-top-color: var(--bad); }
.kpi .label { color: var(--muted); font-size: 15px; }
.kpi .value { font-size: 32px; font-weight: 700; line-height: 1.2; font-variant-numeric: tabular-nums; }
.kpi .detail { color: var(--muted); font-size: 14px; }
figure.chart { margin: 18px 0; break-inside: avoid; page-break-inside: avoid; }
figure.chart figcaption { color: var(--muted); margin-bottom: 4px; }
figure.chart figcaption b { color: var(--ink); font-size: 19px; display: block; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--soft); border-bottom: 2px solid var(--ink); font-size: 15px; }
td.num, th.num { text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; }
#band-table { font-size: 15px; } #band-table th, #band-table td { padding: 5px 9px; }
#band-table td:first-child { white-space: nowrap; font-weight: 600; }
tfoot td { font-weight: 700; border-top: 2px solid var(--ink); }
#band-table tr.mql td { background: var(--mql); }
#band-table tr.sql td { background: var(--sql); }
.flag { color: var(--bad); font-weight: 600; white-space: nowrap; }
table.kv th { font-weight: 600; color: var(--muted); white-space: nowrap; padding-right: 24px; }
table.compact th, table.compact td { padding: 4px 10px; }
.rules { display: flex; flex-wrap: wrap; gap: 8px 28px; }
.rule { break-inside: avoid; }
.kind { color: var(--muted); font-weight: 400; font-size: 14px; }
.segment { border-left: 4px solid var(--line); padding: 2px 0 2px 14px; margin: 10px 0; }
pre.yaml { background: var(--soft); border: 1px solid var(--line); padding: 12px 16px; font-size: 13px;
           line-height: 1.35; white-space: pre-wrap; word-break: break-word; }
footer { margin-top: 36px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted);
         font-size: 14px; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 12pt; }
  h1 { font-size: 22pt; } h2 { font-size: 16pt; margin-top: 18pt; }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  .scroll { overflow: visible; }
  #band-table { font-size: 9.5pt; } #band-table th, #band-table td { padding: 3px 5px; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .kpis { grid-template-columns: repeat(4, 1fr); gap: 8px; }
  .kpi .value { font-size: 20pt; }
  .modebar, .modebar-container { display: none !important; }
  #config { break-before: page; page-break-before: always; }
}
"""

# Lay the (responsive) charts out at paper width while printing, and back afterwards.
PRINT_SCRIPT = """
<script>
(function () {
  function plots() { return document.querySelectorAll('.js-plotly-plot'); }
  window.addEventListener('beforeprint', function () {
    if (!window.Plotly) return;
    plots().forEach(function (el) { Plotly.relayout(el, {width: PRINT_WIDTH}); });
  });
  window.addEventListener('afterprint', function () {
    if (!window.Plotly) return;
    plots().forEach(function (el) { Plotly.relayout(el, {width: null, autosize: true}); });
  });
})();
</script>
""".replace("PRINT_WIDTH", str(PRINT_WIDTH))


def render_report(config: ScoringConfig, result: CalibrationResult, kpis: Kpis, *, version: dict | None = None,
                  approval: dict | None = None, data: dict | None = None, grid: list[GridCell] | None = None,
                  histogram: Histogram | None = None, generated_at: dt.datetime | None = None) -> str:
    """The calibration report of a config version as one standalone HTML page.

    ``result`` is ``analysis.report.calibration(config, ...)``, ``kpis`` is ``model.kpis.kpis(...)``;
    ``version``, ``approval`` (sign-offs and rationale; ``None`` means a draft), ``data``
    (a data fingerprint, rendered key by key), ``grid`` and ``histogram`` are optional.
    ``generated_at`` fixes the time in the footer (default: now), for reproducible files.
    """
    header, title = _header(config, version, approval)
    when = (generated_at or dt.datetime.now().astimezone()).isoformat(sep=" ", timespec="seconds")
    body = [
        header,
        _section("summary-section", "In short", _summary(config, result, kpis) + _kpi_cards(result, kpis)),
        _section("charts", "Charts", _charts(result, histogram, grid, _status(approval))),
        _band_table(result),
        _tiers_table(result),
        _model(config),
        _approval(approval),
        _data(result, data),
        _quality(result),
        _section("config", "The config (YAML)",
                 f'<pre class="yaml" id="config-yaml">{esc(dump_config(config))}</pre>',
                 "Exactly the config this report was computed from."),
        f'<footer id="footer">Generated {esc(when)} by leadcal {esc(__version__)} '
        f"(report format {esc(result.report_version)}). Rates count mature leads only; "
        "intervals are Wilson 95%.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="leadcal ' + esc(__version__) + '">\n'
        f"<title>{esc(title)} · calibration report</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + PRINT_SCRIPT
        + "\n</body>\n</html>\n"
    )


__all__ = ["esc", "fmt_ci", "fmt_int", "fmt_num", "fmt_pct", "fmt_points", "render_report"]
