"""The band chart as a Vega-Lite spec, for the live Calibrate page.

The same picture as :func:`scoring.export.charts.band_chart` (conversion by band with its
Wilson interval, mature leads as bars on the right axis, the approved model placed by score
range, the MQL / SQL lines), drawn by Vega-Lite instead of plotly because that is what a
slider move waits for: in Chromium on the project's 2-core machine plotly re-renders the
whole figure on every update (key press to chart redrawn ~90 ms later than Vega-Lite, see
benchmarks/RESULTS.md, issue 19). The HTML report keeps plotly (one self-contained
library, inlined once).

The spec is kept constant while only numbers change: every value a move changes (rates,
counts, threshold positions and labels) travels in the named datasets, so the browser
updates the data of the chart it has instead of building a new one. The spec itself only
changes with the band labels, the legend names or the unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .charts import APPROVED, DRAFT, approved_spans, percent, threshold_marks

if TYPE_CHECKING:
    from ..analysis.report import CalibrationResult
    from ..model.metrics import BandRow

BAR_GREY = "#9e9e9e"
HEIGHT = 480
FONT_SIZE = 15


@dataclass(frozen=True)
class BandSpec:
    """A Vega-Lite spec and its named datasets (rows), ready for ``st.vega_lite_chart``."""

    spec: dict[str, Any]
    datasets: dict[str, list[dict[str, Any]]]

    def with_data(self) -> dict[str, Any]:
        """The spec with its datasets inlined as rows, as the Vega-Lite schema takes it."""
        return {**self.spec, "datasets": self.datasets}

    def with_arrow_data(self) -> dict[str, Any]:
        """The spec with its datasets as Arrow tables, for ``st.vega_lite_chart`` on a slider move:
        Streamlit serialises a table as it is, where rows went through a pandas DataFrame
        first (1 ms per dataset against 0.07 ms, every move)."""
        return {**self.spec, "datasets": {name: pa.Table.from_pylist(rows) for name, rows in self.datasets.items()}}


def _band_rows(bands: list[BandRow]) -> list[dict[str, Any]]:
    return [{"x": i, "x0": i - 0.4, "x1": i + 0.4, "band": b.band, "leads": b.leads, "conversions": b.conversions,
             "rate": percent(b.rate), "lo": percent(b.ci_low), "hi": percent(b.ci_high)} for i, b in enumerate(bands)]


def _approved_rows(result: CalibrationResult, bands: list[BandRow]) -> tuple[list[dict], list[dict]]:
    """The approved model's bands on the draft's axis: (points on the draft's bands, steps over
    their own score ranges). One of the two is empty: same cut points give points joined by a
    line, other cut points give a step per approved band so a rate is never read under another
    band's label."""
    aligned, spans = approved_spans(result.bands, bands)
    rows = []
    for b, (x0, x1) in zip(result.bands, spans):
        rows.append({"x": (x0 + x1) / 2, "x0": x0, "x1": x1, "band": b.band, "leads": b.leads,
                     "conversions": b.conversions, "rate": percent(b.rate), "lo": percent(b.ci_low),
                     "hi": percent(b.ci_high)})
    return (rows, []) if aligned else ([], rows)


def _line_rows(draft: CalibrationResult, approved: CalibrationResult | None, approved_label: str,
               line_names: tuple[str, str]) -> list[dict[str, Any]]:
    """Threshold lines: the draft's, and the approved model's where it differs (dotted, labelled lower)."""
    return [{"x": m.x, "label": m.label, "approved": m.approved}
            for m in threshold_marks(draft, approved, approved_label, line_names)]


EMPTY_BANDS = {"x": None, "x0": None, "x1": None, "band": None, "leads": None, "conversions": None,
               "rate": None, "lo": None, "hi": None}
"""A row of nothing: an empty dataset still needs its columns for the browser to read it."""


def band_spec(draft: CalibrationResult, approved: CalibrationResult | None = None, *, draft_label: str = "draft",
              approved_label: str = "approved", unit: str = "leads",
              line_names: tuple[str, str] = ("MQL", "SQL")) -> BandSpec:
    """Conversion by band (line, Wilson band) over mature counts (bars), with thresholds, as Vega-Lite.

    Arguments as :func:`scoring.export.charts.band_chart`. Rates are in percent; a band
    without mature leads has no rate and leaves a gap in the line.
    """
    bands = draft.bands
    n = len(bands)
    points, steps = _approved_rows(approved, bands) if approved is not None else ([], [])
    datasets = {"bands": _band_rows(bands), "approved_points": points or [EMPTY_BANDS],
                "approved_steps": steps or [EMPTY_BANDS],
                "lines": _line_rows(draft, approved, approved_label, line_names)}
    names = [f"{draft_label}: mature {unit} (right axis)", f"{draft_label}: conversion", f"{draft_label}: 95% interval"]
    colours = [BAR_GREY, DRAFT, DRAFT]
    theirs = f"{approved_label}: " + ("conversion (whiskers: 95%)" if points else "conversion over its own bands")
    if approved is not None:
        names.append(theirs)
        colours.append(APPROVED)
    legend = {"scale": {"domain": names, "range": colours},
              "legend": {"orient": "bottom", "title": None, "labelLimit": 600, "columns": 2,
                         "labelFontSize": FONT_SIZE - 1, "symbolStrokeWidth": 3}}

    by_series = {"color": {"field": "series", "type": "nominal", **legend}}  # the field ``named`` writes

    def named(name: str, *transforms: dict[str, Any]) -> list[dict[str, Any]]:
        """The layer's transforms, then its legend name as a field (a constant colour cannot have a legend)."""
        return [*transforms, {"calculate": json.dumps(name), "as": "series"}]

    x = {"type": "quantitative", "scale": {"domain": [-0.5, n - 0.5], "nice": False, "zero": False},
         "axis": {"values": list(range(n)), "labelExpr": f"{json.dumps([b.band for b in bands])}[datum.value]",
                  "title": "score band", "grid": False, "labelAngle": 0}}
    rate_y = {"type": "quantitative", "scale": {"zero": True, "nice": True},
              "axis": {"title": "conversion rate", "labelExpr": "datum.label + '%'"}}
    hover = [{"field": "band", "title": "band"},
             {"field": "rate", "title": "conversion (%)", "format": ".1f"},
             {"field": "conversions", "title": "converted", "format": ","},
             {"field": "leads", "title": f"mature {unit}", "format": ","}]
    defined = {"filter": "isValid(datum.rate)"}
    interval = {"filter": "isValid(datum.lo) && isValid(datum.hi)"}
    mine, ci = f"{draft_label}: conversion", f"{draft_label}: 95% interval"
    rates: list[dict[str, Any]] = [
        {"data": {"name": "bands"}, "mark": {"type": "area", "opacity": 0.16}, "transform": named(ci, interval),
         "encoding": {"x": {**x, "field": "x"}, "y": {**rate_y, "field": "lo"}, "y2": {"field": "hi"}, **by_series}},
    ]
    if approved is not None:
        dash = [8, 5]
        rates += [
            {"data": {"name": "approved_points"}, "transform": named(theirs, defined),
             "mark": {"type": "line", "strokeWidth": 3, "strokeDash": dash, "point": {"shape": "diamond", "size": 90}},
             "encoding": {"x": {**x, "field": "x"}, "y": {**rate_y, "field": "rate"}, "tooltip": hover,
                          **by_series}},
            {"data": {"name": "approved_steps"}, "transform": named(theirs, defined),
             "mark": {"type": "rule", "strokeWidth": 3, "strokeDash": dash},
             "encoding": {"x": {**x, "field": "x0"}, "x2": {"field": "x1"}, "y": {**rate_y, "field": "rate"},
                          **by_series}},
            {"data": {"name": "approved_steps"}, "transform": named(theirs, defined),
             "mark": {"type": "point", "shape": "diamond", "size": 90, "filled": True, "opacity": 1},
             "encoding": {"x": {**x, "field": "x"}, "y": {**rate_y, "field": "rate"}, "tooltip": hover,
                          **by_series}},
        ] + [{"data": {"name": name}, "transform": named(theirs, interval), "mark": {"type": "rule", "strokeWidth": 2},
              "encoding": {"x": {**x, "field": "x"}, "y": {**rate_y, "field": "lo"}, "y2": {"field": "hi"},
                           **by_series}}
             for name in ("approved_points", "approved_steps")]
    rates.append(  # over the approved model's, which stays readable where the two agree
        {"data": {"name": "bands"}, "transform": named(mine),
         "mark": {"type": "line", "strokeWidth": 3, "point": {"size": 80}, "invalid": "break-paths-show-domains"},
         "encoding": {"x": {**x, "field": "x"}, "y": {**rate_y, "field": "rate"}, "tooltip": hover, **by_series}})
    colour = {"condition": {"test": "datum.approved", "value": APPROVED}, "value": DRAFT}
    rates += [
        {"data": {"name": "lines"}, "mark": {"type": "rule", "strokeWidth": 2},
         "encoding": {"x": {**x, "field": "x"}, "color": colour,
                      "strokeDash": {"condition": {"test": "datum.approved", "value": [3, 3]}, "value": [1, 0]}}},
        {"data": {"name": "lines"}, "transform": [{"filter": "!datum.approved"}],
         "mark": {"type": "text", "baseline": "bottom", "dy": -4, "fontSize": FONT_SIZE, "fontWeight": "bold"},
         "encoding": {"x": {**x, "field": "x"}, "y": {"value": 0}, "text": {"field": "label"}, "color": colour}},
        {"data": {"name": "lines"}, "transform": [{"filter": "datum.approved"}],
         "mark": {"type": "text", "baseline": "top", "align": "right", "dx": -4, "dy": 6, "fontSize": FONT_SIZE - 1},
         "encoding": {"x": {**x, "field": "x"}, "y": {"value": 0}, "text": {"field": "label"}, "color": colour}},
    ]
    bars = {"data": {"name": "bands"}, "transform": named(names[0]),
            "mark": {"type": "bar", "opacity": 0.45},
            "encoding": {"x": {**x, "field": "x0"}, "x2": {"field": "x1"},
                         "y": {"field": "leads", "type": "quantitative", "scale": {"zero": True},
                               "axis": {"orient": "right", "title": f"mature {unit}", "format": ",d", "grid": False}},
                         "y2": {"datum": 0},
                         "tooltip": [{"field": "band", "title": "band"},
                                     {"field": "leads", "title": f"mature {unit}", "format": ","}],
                         **by_series}}
    spec = {"height": HEIGHT, "padding": {"top": 28, "left": 5, "right": 5, "bottom": 5},
            "config": {"axis": {"labelFontSize": FONT_SIZE - 1, "titleFontSize": FONT_SIZE}},
            "layer": [bars, {"layer": rates}], "resolve": {"scale": {"y": "independent"}}}
    return BandSpec(spec=spec, datasets=datasets)
