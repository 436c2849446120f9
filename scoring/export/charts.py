"""Plotly figures of a calibration result, shared by the app and the HTML report.

Built from the typed results of ``scoring.analysis`` and ``scoring.model.kpis``, so a
chart never computes a number of its own. Large fonts and high-contrast colours: these are
read off a projector.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:  # the results the figures are drawn from (no computation here)
    from ..analysis.attributes import Attribute
    from ..analysis.dataquality import QualityByCohort
    from ..analysis.drift import DriftReport
    from ..analysis.report import CalibrationResult
    from ..analysis.suggest import Curve, CurvePoint, DecayRow, ReliabilityBand
    from ..model.kpis import GridCell, Histogram
    from ..model.metrics import BandRow


def text(value: object) -> str:
    """User data as plotly shows it literally: plotly reads <b>, <a href> and entities in labels."""
    return html.escape(str(value), quote=False)


DRAFT = "#1f4e9c"
APPROVED = "#e07b00"
BARS = "rgba(120,120,120,0.28)"
FONT = dict(size=16)


def band_position(value: float, bands: list[BandRow]) -> float:
    """Where a score sits on the band axis (band i spans i-0.5 .. i+0.5)."""
    for i, band in enumerate(bands):
        lo, hi = band.low, band.high
        if (lo is None or value >= lo) and (hi is None or value < hi or i == len(bands) - 1):
            if lo is None or hi is None or hi <= lo:
                return i - 0.5
            return i - 0.5 + min(max((value - lo) / (hi - lo), 0.0), 1.0)
    return -0.5


def _rate_traces(result: CalibrationResult, name: str, colour: str) -> list[go.Scatter]:
    """A result's conversion by band (left axis): the line, and its Wilson interval as a shaded band."""
    bands = result.bands
    x = list(range(len(bands)))
    return [
        go.Scatter(x=x, y=[percent(b.ci_high) for b in bands], mode="lines", line=dict(width=0, color=colour),
                   hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y"),
        go.Scatter(x=x, y=[percent(b.ci_low) for b in bands], mode="lines", fill="tonexty",
                   line=dict(width=0, color=colour), fillcolor=_alpha(colour, 0.16),
                   name=f"{name}: 95% interval", hoverinfo="skip", xaxis="x", yaxis="y"),
        go.Scatter(x=x, y=[percent(b.rate) for b in bands], mode="lines+markers", name=f"{name}: conversion",
                   line=dict(color=colour, width=3), marker=dict(size=9),
                   customdata=[[b.leads, b.conversions, b.band] for b in bands],
                   hovertemplate="%{customdata[2]}: %{y:.1f}% (%{customdata[1]:,} of %{customdata[0]:,})<extra>"
                   + name + "</extra>", xaxis="x", yaxis="y"),
    ]


def percent(v: float | None) -> float | None:
    """A rate as a percentage (None stays None: a band without mature leads has no rate)."""
    return None if v is None else 100 * v


def score_span(low: float | None, high: float | None, bands: list[BandRow]) -> tuple[float, float]:
    """Where a score range sits on the band axis of ``bands`` (open ends at the axis ends)."""
    x0 = -0.5 if low is None else band_position(low, bands)
    x1 = len(bands) - 0.5 if high is None else band_position(high, bands)
    return x0, x1


def same_cuts(a: list[BandRow], b: list[BandRow]) -> bool:
    """True when two band tables cut the score at the same points."""
    return [(x.low, x.high) for x in a] == [(x.low, x.high) for x in b]


def approved_spans(own: list[BandRow], bands: list[BandRow]) -> tuple[bool, list[tuple[float, float]]]:
    """Whether the approved model's bands cut where the draft's ``bands`` do, and each approved
    band's span on the draft's band axis (its own band; else the scores it covers)."""
    aligned = same_cuts(own, bands)
    return aligned, [(i - 0.5, i + 0.5) if aligned else score_span(b.low, b.high, bands) for i, b in enumerate(own)]


@dataclass(frozen=True)
class ThresholdMark:
    """A threshold line on the band axis: where, its label, and whether it is the approved model's."""

    x: float
    label: str
    approved: bool


def threshold_marks(draft: CalibrationResult, approved: CalibrationResult | None, approved_label: str,
                    line_names: tuple[str, str]) -> list[ThresholdMark]:
    """The draft's MQL and SQL lines, each followed by the approved model's where it differs."""
    bands, marks = draft.bands, []
    for label, key in zip(line_names, ("mql", "sql")):
        value = getattr(draft.thresholds, key)
        marks.append(ThresholdMark(band_position(value, bands), f"{label} {value:g}", False))
        if approved is not None and getattr(approved.thresholds, key) != value:
            theirs = getattr(approved.thresholds, key)
            marks.append(ThresholdMark(band_position(theirs, bands),
                                       f"{approved_label.split(' (')[0]} {label} {theirs:g}", True))
    return marks


def _compared_traces(result: CalibrationResult, bands: list[BandRow], name: str, colour: str) -> list[go.Scatter]:
    """The approved model's conversion by band on the draft's band axis, placed by score range.

    With the same cut points each band sits on the draft's band; with other cut points each
    approved band is drawn as a step over the scores it covers, so a rate is never read under
    another band's label. The 95% interval is a whisker (a second shaded band would blend).
    """
    own = result.bands
    aligned, spans = approved_spans(own, bands)
    mids = [(x0 + x1) / 2 for x0, x1 in spans]
    rates = [percent(b.rate) for b in own]
    error = dict(type="data", symmetric=False, color=colour, thickness=2, width=6,
                 array=[None if b.ci_high is None else 100 * (b.ci_high - b.rate) for b in own],
                 arrayminus=[None if b.ci_low is None else 100 * (b.rate - b.ci_low) for b in own])
    hover = dict(customdata=[[b.leads, b.conversions, b.band] for b in own],
                 hovertemplate="%{customdata[2]}: %{y:.1f}% (%{customdata[1]:,} of %{customdata[0]:,})<extra>"
                 + name + "</extra>")
    if aligned:
        return [go.Scatter(x=mids, y=rates, mode="lines+markers", name=f"{name}: conversion (whiskers: 95%)",
                           line=dict(color=colour, width=3, dash="dash"), marker=dict(size=9, symbol="diamond"),
                           error_y=error, xaxis="x", yaxis="y", **hover)]
    step_x, step_y = [], []
    for (x0, x1), rate in zip(spans, rates):
        step_x += [x0, x1, None]
        step_y += [rate, rate, None]
    return [
        go.Scatter(x=step_x, y=step_y, mode="lines", line=dict(color=colour, width=3, dash="dash"),
                   name=f"{name}: conversion over its own bands", hoverinfo="skip", xaxis="x", yaxis="y"),
        go.Scatter(x=mids, y=rates, mode="markers", marker=dict(size=9, symbol="diamond", color=colour),
                   error_y=error, name=f"{name}: 95% interval", xaxis="x", yaxis="y", **hover),
    ]


def _alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _threshold_line(x: float, colour: str, text: str, dash: str | None = None, below: bool = False):
    """A full-height vertical line at ``x`` on the band axis, labelled above it (or just inside
    the top, left of the line, for the approved model's)."""
    line = dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain",
                line=dict(color=colour, width=2, **({"dash": dash} if dash else {})))
    label = dict(text=text, x=x, xref="x", y=1, yref="y domain", showarrow=False,
                 **(dict(xanchor="right", yanchor="top", yshift=-22) if below else dict(xanchor="center", yanchor="bottom")))
    return line, label


def band_chart(draft: CalibrationResult, approved: CalibrationResult | None = None, *, draft_label: str = "draft",
               approved_label: str = "approved", unit: str = "leads",
               line_names: tuple[str, str] = ("MQL", "SQL")) -> go.Figure:
    """Conversion by band (line, Wilson band) over lead counts (bars), with thresholds.

    ``draft_label`` names the main result in the legend (the HTML report of an approved
    version says "approved"). The compared result is placed by score range (see
    :func:`_compared_traces`). Built as one figure from its parts: plotly's
    ``make_subplots`` and ``add_vline`` validate the figure again on every call, which took
    40-55 ms of each slider move's rerun. ``unit`` and ``line_names`` name what is counted and the two
    thresholds (``accounts``, ``("MQA", "SQA")`` for the account view).
    """
    bands = draft.bands
    x = list(range(len(bands)))
    traces = [go.Bar(x=x, y=[b.leads for b in bands], name=f"{draft_label}: mature {unit} (right axis)",
                     marker_color=BARS, hovertemplate=f"%{{y:,}} mature {unit}<extra></extra>", xaxis="x", yaxis="y2")]
    if approved is not None:  # under the draft's line, which stays readable where the two agree
        traces += _compared_traces(approved, bands, approved_label, APPROVED)
    traces += _rate_traces(draft, draft_label, DRAFT)
    lines = [_threshold_line(m.x, APPROVED, m.label, dash="dot", below=True) if m.approved
             else _threshold_line(m.x, DRAFT, m.label)
             for m in threshold_marks(draft, approved, approved_label, line_names)]
    layout = dict(
        xaxis=dict(anchor="y", domain=[0.0, 1.0], title=dict(text="score band"), tickmode="array",
                   tickvals=x, ticktext=[b.band for b in bands], range=[-0.5, len(bands) - 0.5]),
        yaxis=dict(anchor="x", domain=[0.0, 1.0], title=dict(text="conversion rate"), rangemode="tozero",
                   ticksuffix="%", tickformat=",.0f", automargin=False),
        yaxis2=dict(anchor="x", overlaying="y", side="right", title=dict(text=f"mature {unit}"),
                    rangemode="tozero", showgrid=False, tickmode="auto", tickformat=",d", automargin=False),
        shapes=[line for line, _ in lines], annotations=[label for _, label in lines],
        font=FONT, height=480, margin=dict(l=70, r=70, t=40, b=10),
        legend=dict(orientation="h", y=-0.22), barmode="overlay", hovermode="x unified")
    return go.Figure(data=traces, layout=layout)


def distribution_chart(hist: Histogram) -> go.Figure:
    """Score distribution of converted vs not converted leads (shares of each group)."""
    edges = hist.edges
    mids = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=mids, y=[100 * v for v in hist.not_converted], name="not converted",
                         marker_color="rgba(150,150,150,0.6)"))
    fig.add_trace(go.Bar(x=mids, y=[100 * v for v in hist.converted], name="converted",
                         marker_color=_alpha(DRAFT, 0.75)))
    fig.update_layout(barmode="overlay", font=FONT, height=360, margin=dict(l=70, r=20, t=30, b=10),
                      xaxis_title="score", yaxis=dict(title="share of the group", ticksuffix="%", automargin=True),
                      legend=dict(orientation="h", y=-0.25))
    return fig


GRID_FIT = ["fit A (best)", "fit B", "fit C"]
GRID_ENGAGEMENT = ["engagement 1 (most)", "engagement 2", "engagement 3 (least)"]


def grid_chart(grid: list[GridCell]) -> go.Figure:
    """Fit x engagement heatmap: each cell coloured by its conversion rate and labelled with it.

    Both axes are categories (plotly would read labels such as "2" as numbers and pile them
    up); a cell without mature leads is grey and says so.
    """
    z, text = [], []
    for fit in "ABC":
        row_z, row_t = [], []
        for eng in (1, 2, 3):
            cell = next(c for c in grid if c.fit == fit and c.engagement == eng)
            rate = cell.rate
            row_z.append(None if rate is None else 100 * rate)
            shown = "no mature leads" if rate is None else f"{100 * rate:.1f}%"
            row_t.append(f"<b>{cell.cell}</b>: {shown}<br>{cell.mature:,} leads")
        z.append(row_z)
        text.append(row_t)
    fig = go.Figure(go.Heatmap(
        z=z, x=GRID_ENGAGEMENT, y=GRID_FIT, text=text, texttemplate="%{text}", textfont=dict(size=17),
        colorscale=[[0, "#f1f5fb"], [1, "#5b8fd6"]], zmin=0, xgap=3, ygap=3,
        colorbar=dict(title=dict(text="conversion"), ticksuffix="%"), hoverinfo="skip"))
    fig.update_layout(font=FONT, height=380, margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="#d9d9d9",
                      xaxis=dict(type="category", side="top"),
                      yaxis=dict(type="category", autorange="reversed"))
    return fig


PSI_COLOURS = {"stable": "#2e7d32", "investigate": "#f9a825", "shifted": "#c62828", "immature": "#9e9e9e"}


def psi_chart(drift: DriftReport) -> go.Figure:
    """Score PSI per cohort, coloured by status, with the 0.1 and 0.25 lines."""
    cohorts = drift.cohorts
    fig = go.Figure(go.Bar(
        x=[c.cohort for c in cohorts], y=[c.psi or 0 for c in cohorts],
        marker_color=[PSI_COLOURS.get(c.status, "#9e9e9e") for c in cohorts],
        customdata=[[c.status + (" (reference)" if c.in_reference else ""), c.leads] for c in cohorts],
        hovertemplate="%{x}: PSI %{y:.3f}, %{customdata[0]}, %{customdata[1]:,} leads<extra></extra>"))
    for value, label in ((drift.thresholds.investigate, "investigate"), (drift.thresholds.shifted, "shifted")):
        fig.add_hline(y=value, line=dict(color=PSI_COLOURS[label], dash="dash"), annotation_text=label)
    ref = drift.reference
    fig.add_vrect(x0=ref.start[:10], x1=ref.end[:10], fillcolor="rgba(31,78,156,0.08)", line_width=0,
                  annotation_text="reference", annotation_position="top left")
    fig.update_layout(font=FONT, height=360, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="score PSI",
                      xaxis_title="cohort (creation)")
    return fig


def rule_psi_chart(drift: DriftReport) -> go.Figure:
    """Heatmap of each rule's PSI per cohort: which rule moved, and when."""
    cohorts = [c for c in drift.cohorts if c.judged]
    rules = list(cohorts[0].rules) if cohorts else []
    z = [[c.rules[r].psi for c in cohorts] for r in rules]
    fig = go.Figure(go.Heatmap(z=z, x=[c.cohort for c in cohorts], y=[text(r) for r in rules], zmin=0, zmax=0.5,
                               colorscale=[[0, "#ffffff"], [0.2, "#fff3c4"], [0.5, "#f9a825"], [1, "#c62828"]],
                               colorbar=dict(title="PSI"), hovertemplate="%{y}, %{x}: PSI %{z:.3f}<extra></extra>"))
    fig.update_layout(font=FONT, height=max(300, 28 * len(rules) + 120), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def band_mix_chart(drift: DriftReport) -> go.Figure:
    """Share of each cohort's scored leads per score band (stacked)."""
    cohorts = [c for c in drift.cohorts if c.scored]
    fig = go.Figure()
    for i, label in enumerate(drift.bands):
        fig.add_trace(go.Bar(x=[c.cohort for c in cohorts], y=[100 * c.band_mix[i] for c in cohorts],
                             name=text(label)))
    fig.update_layout(barmode="stack", font=FONT, height=380, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis_title="% of leads", legend=dict(title="band"))
    return fig


def completeness_chart(quality: QualityByCohort) -> go.Figure:
    """Heatmap of the filled share of every mapped column per cohort; red below the alarm."""
    cohorts = quality.cohorts
    cols = quality.columns
    z = [[None if c.filled[col] is None else 100 * c.filled[col] for c in cohorts] for col in cols]
    t = quality.threshold * 100
    fig = go.Figure(go.Heatmap(
        z=z, x=[c.cohort for c in cohorts], y=[text(c) for c in cols], zmin=max(0, t - 35), zmax=100,
        colorscale=[[0, "#c62828"], [0.49, "#f9a825"], [0.5, "#e8f5e9"], [1, "#2e7d32"]],
        colorbar=dict(title="% filled"), hovertemplate="%{y}, %{x}: %{z:.1f}% filled<extra></extra>"))
    fig.update_layout(font=FONT, height=max(300, 28 * len(cols) + 120), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def iv_chart(attributes: list[Attribute], leakage_iv: float) -> go.Figure:
    """Information value per attribute: blue scored by the draft, grey not in it, red possible leakage."""
    fig = go.Figure(go.Bar(
        x=[a.iv for a in attributes], y=[text(a.attribute) for a in attributes], orientation="h",
        marker_color=["#c0392b" if a.leakage else (DRAFT if a.in_model else "#9aa5b1") for a in attributes],
        hovertemplate="%{y}: IV %{x:.3f}<extra></extra>"))
    fig.add_vline(x=float(leakage_iv), line=dict(color="#c0392b", dash="dot"), annotation_text="leakage?")
    fig.update_layout(font=FONT, height=max(320, 28 * len(attributes)), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), xaxis_title="information value (IV)")
    return fig


def decay_chart(rows: list[DecayRow]) -> go.Figure:
    """Hold-out AUC per decay option: points refitted for it, and the draft's own points."""
    suggested = [r.suggested for r in rows]
    labels = [r.label for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=labels, y=[r.holdout_auc for r in rows], mode="markers",
                             name="points refitted for the decay",
                             marker=dict(size=[20 if s else 13 for s in suggested],
                                         color=[DRAFT if s else "#9aa5b1" for s in suggested])))
    fig.add_trace(go.Scatter(x=labels, y=[r.draft_points_holdout_auc for r in rows], mode="markers",
                             name="the draft's points", marker=dict(size=11, color=APPROVED, symbol="diamond")))
    values = [v for r in rows for v in (r.holdout_auc, r.draft_points_holdout_auc) if v is not None]
    yaxis = dict(title="hold-out AUC")
    if values:
        yaxis["range"] = [min(values) - 0.005, max(values) + 0.005]
    fig.update_layout(font=FONT, height=420, margin=dict(l=10, r=10, t=30, b=10), yaxis=yaxis,
                      legend=dict(orientation="h", y=-0.35))
    return fig


def tradeoff_chart(curve: list[CurvePoint], mql: float, sql: float) -> go.Figure:
    """Leads passed (per month, else share) against conversions captured and their rate."""
    timed = any(p.per_month is not None for p in curve)
    x = [p.per_month if timed else 100 * p.share for p in curve]
    thresholds = [p.threshold for p in curve]
    fig = go.Figure()
    captured = [None if p.capture is None else 100 * p.capture for p in curve]
    rates = [None if p.rate is None else 100 * p.rate for p in curve]
    for y, name, colour, fmt in ((captured, "conversions captured (%)", DRAFT, "%{y:.0f}% captured"),
                                 (rates, "conversion rate of those passed (%)", APPROVED, "%{y:.1f}% convert")):
        fig.add_trace(go.Scatter(x=x, y=y, name=name,
                                 mode="lines", line=dict(color=colour, width=3), customdata=thresholds,
                                 hovertemplate="threshold %{customdata}: " + fmt + "<extra></extra>"))
    for label, value in (("MQL", mql), ("SQL", sql)):
        if value in thresholds:
            fig.add_vline(x=x[thresholds.index(value)], line=dict(color="#444", dash="dot"),
                          annotation_text=f"{label} {value:g}",
                          annotation_position="top" if label == "SQL" else "bottom")
    fig.update_layout(font=FONT, height=440, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="leads passed per month" if timed else "share of leads passed (%)",
                      yaxis_title="%", legend=dict(orientation="h", y=-0.3))
    return fig


def reliability_chart(bands: list[ReliabilityBand], line: Curve) -> go.Figure:
    """Observed conversion per band on the hold-out (Wilson intervals) and the fitted curve."""
    shown = [b for b in bands if b.leads > 0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=[b.mean_score for b in shown], y=[100 * b.rate for b in shown], mode="markers",
        name="observed (hold-out, 95% interval)", marker=dict(size=11, color=DRAFT),
        error_y=dict(type="data", symmetric=False, array=[100 * (b.ci_high - b.rate) for b in shown],
                     arrayminus=[100 * (b.rate - b.ci_low) for b in shown]),
        customdata=[[b.band, b.leads] for b in shown],
        hovertemplate="%{customdata[0]}: %{y:.1f}% of %{customdata[1]}<extra></extra>"))
    fig.add_trace(go.Scatter(x=line.score, y=[100 * p for p in line.probability], mode="lines",
                             name="fitted on the training period", line=dict(color=APPROVED, width=3)))
    fig.update_layout(font=FONT, height=440, xaxis_title="draft score", yaxis_title="conversion (%)",
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
    return fig
