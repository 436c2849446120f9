"""The charts show the result's numbers, put lines where the scores fall, and read on a projector."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from scoring.export.charts import APPROVED, DRAFT, GRID_ENGAGEMENT, GRID_FIT, band_chart, grid_chart
from scoring.model.kpis import GridCell
from scoring.model.metrics import BandRow


def _result(mql, sql, edges=((None, 20), (20, 40), (40, 60), (60, None)), rates=(0.02, None, 0.25, 0.5)):
    """What a chart reads of a calibration result: its thresholds and band rows."""
    return SimpleNamespace(
        thresholds=SimpleNamespace(mql=mql, sql=sql),
        bands=[BandRow(band=f"b{i}", low=lo, high=hi, leads=10 * (i + 1), conversions=i, rate=r,
                       ci_low=None if r is None else r / 2, ci_high=None if r is None else r * 1.5,
                       lift=None, share=None, capture=None, immature=0, small=False)
               for i, ((lo, hi), r) in enumerate(zip(edges, rates))],
    )


def test_band_chart_traces_lines_and_labels():
    draft, approved = _result(30, 50), _result(45, 50)
    fig = band_chart(draft, approved, approved_label="approved (default@2)")
    bars, *rates = fig.data
    assert list(bars.y) == [10, 20, 30, 40] and bars.yaxis == "y2"  # mature leads on the right axis
    by_name = {t.name: t for t in rates}
    assert list(by_name["draft: conversion"].y) == [2.0, None, 25.0, 50.0]  # percent, gaps where no rate
    assert list(by_name["draft: 95% interval"].y) == [1.0, None, 12.5, 25.0]  # the lower bound, filled up
    theirs = by_name["approved (default@2): conversion (whiskers: 95%)"]
    assert list(theirs.x) == [0, 1, 2, 3] and list(theirs.y) == [2.0, None, 25.0, 50.0]  # same cuts: same bands
    # its interval is a whisker, not a second shaded band (two translucent fills blend into brown)
    assert theirs.fill is None and list(theirs.error_y.array) == pytest.approx([1.0, None, 12.5, 25.0])
    assert list(theirs.error_y.arrayminus) == pytest.approx([1.0, None, 12.5, 25.0])
    assert sum(1 for t in fig.data if getattr(t, "fill", None)) == 1
    assert all(t.yaxis == "y" for t in rates)
    assert list(fig.layout.xaxis.ticktext) == ["b0", "b1", "b2", "b3"]
    # band i spans i - 0.5 .. i + 0.5: 30 is half way through 20-40 (band 1), 45 a quarter into 40-60
    lines = [(s.x0, s.line.color, s.line.dash) for s in fig.layout.shapes]
    assert lines == [(1.0, DRAFT, None), (1.75, APPROVED, "dot"), (2.0, DRAFT, None)]  # SQL unchanged: one line
    assert [a.text for a in fig.layout.annotations] == ["MQL 30", "approved MQL 45", "SQL 50"]
    assert all(s.yref == "y domain" and (s.y0, s.y1) == (0, 1) for s in fig.layout.shapes)  # full height
    # lead counts in whole numbers on their own ticks (not 2.37k, nor synced to the rate axis)
    assert fig.layout.yaxis2.tickformat == ",d" and fig.layout.yaxis2.tickmode == "auto"
    assert fig.layout.yaxis.ticksuffix == "%"


def test_band_chart_with_other_cut_points_places_the_approved_rates_by_score():
    """Draft bands <20, 20-40, 40-60, >=60; approved bands <30, 30-60, >=60 at 5%, 20%, 40%."""
    draft = _result(40, 60)
    approved = _result(40, 60, edges=((None, 30), (30, 60), (60, None)), rates=(0.05, 0.2, 0.4))
    fig = band_chart(draft, approved)
    step = next(t for t in fig.data if t.name == "approved: conversion over its own bands")
    # 30 sits half way through the draft's band 1 (20-40, x 0.5..1.5) -> x = 1.0; 60 starts band 3 -> 2.5
    assert list(step.x) == [-0.5, 1.0, None, 1.0, 2.5, None, 2.5, 3.5, None]
    assert list(step.y) == [5.0, 5.0, None, 20.0, 20.0, None, 40.0, 40.0, None]
    marks = next(t for t in fig.data if t.name == "approved: 95% interval")
    assert list(marks.x) == [0.25, 1.75, 3.0] and list(marks.y) == [5.0, 20.0, 40.0]
    assert [c[2] for c in marks.customdata] == ["b0", "b1", "b2"]  # the hover names the approved band
    # the draft keeps its own four bands
    assert list(next(t for t in fig.data if t.name == "draft: conversion").x) == [0, 1, 2, 3]


def test_band_chart_without_approved_model_and_its_legend_name():
    fig = band_chart(_result(10, 70))
    assert [t.name for t in fig.data] == ["draft: mature leads (right axis)", None, "draft: 95% interval",
                                          "draft: conversion"]
    assert [s.x0 for s in fig.layout.shapes] == [-0.5, 2.5]  # open-ended bands: their left edge
    assert [a.text for a in fig.layout.annotations] == ["MQL 10", "SQL 70"]
    fig = band_chart(_result(10, 70), draft_label="approved")  # an approved version's report
    assert "approved: conversion" in [t.name for t in fig.data]
    assert not any("draft" in (t.name or "") for t in fig.data)


def test_grid_chart_axes_are_categories_and_cells_coloured_and_labelled():
    grid = [GridCell(cell=f"{f}{e}", fit=f, engagement=e, leads=100 * e, mature=100 * e, conversions=0,
                     rate=None if (f, e) == ("C", 1) else 0.1 * e, ci_low=None, ci_high=None)
            for f in "ABC" for e in (1, 2, 3)]
    fig = grid_chart(grid)
    heat = fig.data[0]
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert list(heat.x) == GRID_ENGAGEMENT and list(heat.y) == GRID_FIT
    assert list(heat.z[0]) == pytest.approx([10.0, 20.0, 30.0])
    assert heat.z[2][0] is None
    assert heat.text[0][1] == "<b>A2</b>: 20.0%<br>200 leads"
    assert heat.text[2][0] == "<b>C1</b>: no mature leads<br>100 leads"
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]  # coloured by conversion
