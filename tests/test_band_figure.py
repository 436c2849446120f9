"""The live band chart's numbers (scoring.export.band_figure): the result's numbers where the plotly
figure of the HTML report puts them, worked by hand on four bands."""

from __future__ import annotations

import json

from scoring.export.band_figure import BAR_GREY, BandPoint, Series, band_figure
from scoring.export.charts import APPROVED, DRAFT
from scoring.export.charts import ThresholdMark as Line  # the threshold lines the chart draws

from .test_charts import _result


def test_numbers_positions_and_labels_as_worked_by_hand():
    draft, approved = _result(30, 50), _result(45, 50)
    chart = band_figure(draft, approved, approved_label="approved (default@2)")
    bands = chart.bands
    assert [b.band for b in bands] == ["b0", "b1", "b2", "b3"]
    assert [b.leads for b in bands] == [10, 20, 30, 40] and [b.conversions for b in bands] == [0, 1, 2, 3]
    assert [b.rate for b in bands] == [2.0, None, 25.0, 50.0]  # percent, no rate where no mature lead
    assert [b.lo for b in bands] == [1.0, None, 12.5, 25.0] and [b.hi for b in bands] == [3.0, None, 37.5, 75.0]
    assert [(b.x, b.x0, b.x1) for b in bands] == [(0, -0.4, 0.4), (1, 0.6, 1.4), (2, 1.6, 2.4), (3, 2.6, 3.4)]
    # band i spans i - 0.5 .. i + 0.5: 30 is half way through 20-40 (band 1), 45 a quarter into 40-60
    assert chart.lines == [Line(1.0, "MQL 30", False), Line(1.75, "approved MQL 45", True),
                           Line(2.0, "SQL 50", False)]  # SQL unchanged: one line
    # same cut points: the approved rates on the draft's bands, a whole band wide
    assert chart.aligned
    assert [(p.x, p.x0, p.x1, p.rate, p.lo, p.hi) for p in chart.approved] == [
        (0, -0.5, 0.5, 2.0, 1.0, 3.0), (1, 0.5, 1.5, None, None, None), (2, 1.5, 2.5, 25.0, 12.5, 37.5),
        (3, 2.5, 3.5, 50.0, 25.0, 75.0)]
    assert chart.legend == [Series("draft: mature leads (right axis)", BAR_GREY, "bar"),
                            Series("draft: conversion", DRAFT, "line"), Series("draft: 95% interval", DRAFT, "area"),
                            Series("approved (default@2): conversion (whiskers: 95%)", APPROVED, "approved")]
    assert chart.approved_name == chart.legend[-1].name and chart.unit == "leads"


def test_other_cut_points_place_the_approved_rates_by_score():
    """Draft bands <20, 20-40, 40-60, >=60; approved bands <30, 30-60, >=60 at 5%, 20%, 40%."""
    chart = band_figure(_result(40, 60), _result(40, 60, edges=((None, 30), (30, 60), (60, None)),
                                                 rates=(0.05, 0.2, 0.4)))
    assert not chart.aligned
    # 30 sits half way through the draft's band 1 (20-40, x 0.5..1.5) -> 1.0; 60 starts band 3 -> 2.5
    assert [(s.x0, s.x1) for s in chart.approved] == [(-0.5, 1.0), (1.0, 2.5), (2.5, 3.5)]
    assert [s.x for s in chart.approved] == [0.25, 1.75, 3.0] and [s.rate for s in chart.approved] == [5.0, 20.0, 40.0]
    assert [s.band for s in chart.approved] == ["b0", "b1", "b2"]  # the tooltip names the approved band
    assert chart.approved_name == "approved: conversion over its own bands"
    assert len(chart.bands) == 4  # the draft keeps its own bands


def test_without_approved_model_and_for_accounts():
    chart = band_figure(_result(10, 70), unit="accounts", line_names=("MQA", "SQA"))
    assert [(r.x, r.label) for r in chart.lines] == [(-0.5, "MQA 10"), (2.5, "SQA 70")]
    assert chart.approved == [] and chart.approved_name is None
    assert [s.name for s in chart.legend] == ["draft: mature accounts (right axis)", "draft: conversion",
                                              "draft: 95% interval"]
    assert chart.unit == "accounts"


def test_the_payload_is_json_with_every_number_and_label():
    """What the browser gets: plain JSON (no NaN: a band without a rate sends null), field for field."""
    chart = band_figure(_result(30, 50), _result(45, 50))
    sent = json.loads(json.dumps(chart.payload(), allow_nan=False))
    assert sent["bands"][1] == {"x": 1, "x0": 0.6, "x1": 1.4, "band": "b1", "leads": 20, "conversions": 1,
                                "rate": None, "lo": None, "hi": None}
    assert [BandPoint(**p) for p in sent["approved"]] == chart.approved
    assert [Line(**line) for line in sent["lines"]] == chart.lines
    assert [Series(**s) for s in sent["legend"]] == chart.legend
    assert (sent["aligned"], sent["unit"], sent["approved_name"]) == (True, "leads", chart.approved_name)
