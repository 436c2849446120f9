"""The live band chart (Vega-Lite) shows the result's numbers where the plotly figure does, and keeps
its spec constant while only numbers move (so the browser updates data instead of re-drawing)."""

from __future__ import annotations

import dataclasses

import jsonschema
import pyarrow as pa
import pytest
from altair.vegalite.v6.schema import load_schema

from scoring.export.band_spec import EMPTY_BANDS, band_spec
from scoring.export.charts import APPROVED, DRAFT

from .test_charts import _result

VEGA_LITE = jsonschema.Draft7Validator(load_schema())


def _layers(spec: dict) -> list[dict]:
    out = []
    for layer in spec["layer"]:
        out += _layers(layer) if "layer" in layer else [layer]
    return out


def _series(layer: dict) -> str:
    return next(t["calculate"] for t in layer.get("transform", []) if t.get("as") == "series").strip('"')


def test_numbers_positions_and_labels_as_worked_by_hand():
    draft, approved = _result(30, 50), _result(45, 50)
    chart = band_spec(draft, approved, approved_label="approved (default@2)")
    VEGA_LITE.validate(chart.with_data())
    bands = chart.datasets["bands"]
    assert [b["band"] for b in bands] == ["b0", "b1", "b2", "b3"]
    assert [b["leads"] for b in bands] == [10, 20, 30, 40]
    assert [b["rate"] for b in bands] == [2.0, None, 25.0, 50.0]  # percent, no rate where no mature lead
    assert [b["lo"] for b in bands] == [1.0, None, 12.5, 25.0] and [b["hi"] for b in bands] == [3.0, None, 37.5, 75.0]
    assert [(b["x0"], b["x1"]) for b in bands] == [(-0.4, 0.4), (0.6, 1.4), (1.6, 2.4), (2.6, 3.4)]
    # band i spans i - 0.5 .. i + 0.5: 30 is half way through 20-40 (band 1), 45 a quarter into 40-60
    assert chart.datasets["lines"] == [{"x": 1.0, "label": "MQL 30", "approved": False},
                                       {"x": 1.75, "label": "approved MQL 45", "approved": True},
                                       {"x": 2.0, "label": "SQL 50", "approved": False}]  # SQL unchanged: one line
    # same cut points: the approved rates on the draft's bands, no steps
    points = chart.datasets["approved_points"]
    assert [(p["x"], p["rate"]) for p in points] == [(0, 2.0), (1, None), (2, 25.0), (3, 50.0)]
    assert chart.datasets["approved_steps"] == [EMPTY_BANDS]
    legend = next(layer for layer in _layers(chart.spec) if "color" in layer["encoding"]
                  and "scale" in layer["encoding"]["color"])["encoding"]["color"]["scale"]
    assert legend == {"domain": ["draft: mature leads (right axis)", "draft: conversion", "draft: 95% interval",
                                 "approved (default@2): conversion (whiskers: 95%)"],
                      "range": ["#9e9e9e", DRAFT, DRAFT, APPROVED]}
    axis = _layers(chart.spec)[0]["encoding"]["x"]["axis"]
    assert axis["values"] == [0, 1, 2, 3] and axis["labelExpr"] == '["b0", "b1", "b2", "b3"][datum.value]'
    # mature leads on the right axis in whole numbers, rates on the left in percent
    bars = _layers(chart.spec)[0]
    assert bars["mark"]["type"] == "bar" and bars["encoding"]["y"]["axis"]["orient"] == "right"
    assert bars["encoding"]["y"]["axis"]["format"] == ",d"
    # the draft's line is drawn last of the rates, over the approved model's
    rates = [_series(layer) for layer in _layers(chart.spec)[1:] if layer["data"]["name"] != "lines"]
    assert rates[-1] == "draft: conversion" and "approved (default@2): conversion (whiskers: 95%)" in rates


def test_other_cut_points_place_the_approved_rates_by_score():
    """Draft bands <20, 20-40, 40-60, >=60; approved bands <30, 30-60, >=60 at 5%, 20%, 40%."""
    chart = band_spec(_result(40, 60), _result(40, 60, edges=((None, 30), (30, 60), (60, None)),
                                               rates=(0.05, 0.2, 0.4)))
    VEGA_LITE.validate(chart.with_data())
    steps = chart.datasets["approved_steps"]
    # 30 sits half way through the draft's band 1 (20-40, x 0.5..1.5) -> 1.0; 60 starts band 3 -> 2.5
    assert [(s["x0"], s["x1"]) for s in steps] == [(-0.5, 1.0), (1.0, 2.5), (2.5, 3.5)]
    assert [s["x"] for s in steps] == [0.25, 1.75, 3.0] and [s["rate"] for s in steps] == [5.0, 20.0, 40.0]
    assert [s["band"] for s in steps] == ["b0", "b1", "b2"]  # the tooltip names the approved band
    assert chart.datasets["approved_points"] == [EMPTY_BANDS]
    assert "approved: conversion over its own bands" in {_series(layer) for layer in _layers(chart.spec)
                                                         if layer["data"]["name"] != "lines"}


def test_without_approved_model_and_for_accounts():
    chart = band_spec(_result(10, 70), unit="accounts", line_names=("MQA", "SQA"))
    VEGA_LITE.validate(chart.with_data())
    assert [(r["x"], r["label"]) for r in chart.datasets["lines"]] == [(-0.5, "MQA 10"), (2.5, "SQA 70")]
    names = {_series(layer) for layer in _layers(chart.spec) if layer["data"]["name"] != "lines"}
    assert names == {"draft: mature accounts (right axis)", "draft: conversion", "draft: 95% interval"}
    assert _layers(chart.spec)[0]["encoding"]["y"]["axis"]["title"] == "mature accounts"


@pytest.mark.parametrize("moved", [dict(mql=35, sql=55), dict(rates=(0.1, 0.2, None, 0.9))])
def test_a_slider_move_changes_the_data_not_the_spec(moved):
    """The browser keeps its chart and swaps the data when the spec is unchanged: a threshold or
    points move must not reach the spec (the band labels and legend names are all it holds)."""
    before = band_spec(_result(30, 50), _result(30, 50), approved_label="approved (m@1)")
    after = band_spec(_result(moved.get("mql", 30), moved.get("sql", 50), rates=moved.get("rates", (0.02, None, 0.25, 0.5))),
                      _result(30, 50), approved_label="approved (m@1)")
    assert after.spec == before.spec
    assert after.datasets != before.datasets


def test_band_labels_reach_the_expression_as_a_string_literal():
    """A band label is quoted as JSON inside the axis expression, never spliced in as code."""
    result = _result(30, 50)
    result.bands[0] = dataclasses.replace(result.bands[0], band="x'] + alert(1) + ['")
    axis = _layers(band_spec(result).spec)[0]["encoding"]["x"]["axis"]
    assert axis["labelExpr"].startswith('["x\'] + alert(1) + [\'", "b1"')


@pytest.mark.parametrize("chart", [
    band_spec(_result(30, 50), _result(45, 50), approved_label="approved (m@2)"),
    band_spec(_result(40, 60), _result(40, 60, edges=((None, 30), (30, 60), (60, None)), rates=(0.05, 0.2, 0.4))),
    band_spec(_result(10, 70), unit="accounts", line_names=("MQA", "SQA")),
], ids=["same cuts", "other cuts", "accounts"])
def test_arrow_datasets_carry_the_same_rows_to_the_browser(chart):
    """The page sends the datasets as Arrow tables: read back from the bytes Streamlit sends, every
    dataset holds the rows of the spec's inlined datasets (missing rates, booleans, whole and
    fractional positions alike), and the spec itself is the same."""
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes

    arrow = chart.with_arrow_data()
    assert {k: v for k, v in arrow.items() if k != "datasets"} == chart.spec
    assert arrow["datasets"].keys() == chart.datasets.keys()
    for name, table in arrow["datasets"].items():
        sent = pa.ipc.open_stream(convert_anything_to_arrow_bytes(table)).read_all()
        assert sent.to_pylist() == chart.datasets[name], name
