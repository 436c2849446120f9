"""ui/assets/band_chart.js, the Calibrate page's band chart, run in Chromium on the numbers ui.band_chart
sends (scoring.export.band_figure): marks where the numbers put them, read against the chart's own axis
ticks; a band without a rate breaks the line; labels are text, never markup; a move redraws in place and
a narrower column redraws narrower; hovering a point shows its numbers."""

from __future__ import annotations

import dataclasses

import pytest

from scoring.export.band_figure import band_figure
from tests.test_charts import _result
from ui.band_chart import _ASSETS

MOUNT = """async (source) => {
  const url = URL.createObjectURL(new Blob([source], {type: "text/javascript"}));
  window.__draw = (await import(url)).default;
  const root = document.createElement("div");
  root.id = "root";
  root.style.width = "800px";
  document.body.append(root);
  window.__root = root;
}"""

DRAW = """(data) => { window.__draw({data, parentElement: window.__root}); }"""

READ = """() => {
  const root = window.__root;
  const axis = (title) => [...root.querySelectorAll(`.lc-tick[data-axis="${title}"]`)].map(
      (t) => ({text: t.textContent, x: +t.getAttribute("x"), y: +t.getAttribute("y")}));
  const num = (el, a) => +el.getAttribute(a);
  return {
    svg: root.querySelector("svg"),
    svgs: root.querySelectorAll("svg").length,
    width: num(root.querySelector("svg"), "width"),
    rates: axis("conversion rate"), leads: axis("mature leads"), bands: axis("score band"),
    bars: [...root.querySelectorAll("rect.lc-bar")].map((r) => ({x: num(r, "x"), y: num(r, "y"), w: num(r, "width"),
                                                               h: num(r, "height")})),
    points: [...root.querySelectorAll("circle.lc-point")].map((c) => ({x: num(c, "cx"), y: num(c, "cy"),
                                                                      label: c.getAttribute("aria-label")})),
    lines: root.querySelectorAll("polyline.lc-line").length,
    intervals: root.querySelectorAll("polygon.lc-interval").length,
    thresholds: [...root.querySelectorAll("line.lc-threshold")].map((l) => ({x: num(l, "x1"),
                                                                           approved: l.classList.contains("lc-threshold-approved")})),
    labels: [...root.querySelectorAll(".lc-threshold-label")].map((t) => t.textContent),
    steps: [...root.querySelectorAll("line.lc-step")].map((l) => ({x0: num(l, "x1"), x1: num(l, "x2"), y: num(l, "y1"),
                                                                  band: [+l.dataset.x0, +l.dataset.x1]})),
    diamonds: root.querySelectorAll("path.lc-diamond").length,
    legend: [...root.querySelectorAll(".lc-band-legend-name")].map((s) => s.textContent),
    elements: root.querySelectorAll("img, b, script").length,
    pwned: window.pwned ?? null,
  };
}"""


def _scale(ticks: list[dict], axis: str):
    """Value -> pixel on an axis, from its first and last tick (their labels read as numbers)."""
    first, last = ticks[0], ticks[-1]
    v0, v1 = (float(t["text"].rstrip("%").replace(",", "")) for t in (first, last))
    return lambda v: first[axis] + (v - v0) / (v1 - v0) * (last[axis] - first[axis])


def _band_scale(ticks: list[dict]):
    """Band position (band i at i, its edges at i +- 0.5) -> pixel, from the first and last band's label."""
    first, last = ticks[0]["x"], ticks[-1]["x"]
    return lambda v: first + v * (last - first) / (len(ticks) - 1)


@pytest.fixture()
def chart(browser):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    page.set_content("<html><body></body></html>")
    page.evaluate(MOUNT, (_ASSETS / "band_chart.js").read_text())
    page.add_style_tag(content=(_ASSETS / "band_chart.css").read_text())
    yield page
    page.close()


def _draw(page, figure) -> dict:
    page.evaluate(DRAW, figure.payload())
    out = page.evaluate(READ)
    out.pop("svg")
    return out


def test_marks_sit_where_the_numbers_put_them_on_the_charts_own_axes(chart):
    """Draft: 4 bands, 10/20/30/40 mature leads, rates 2%, none, 25%, 50% (interval half to 1.5x the rate);
    MQL 30 (half way through band 1), approved MQL 45, SQL 50."""
    out = _draw(chart, band_figure(_result(30, 50), _result(45, 50), approved_label="approved (m@2)"))
    assert [t["text"] for t in out["bands"]] == ["b0", "b1", "b2", "b3"]
    assert [t["text"] for t in out["rates"]] == ["0%", "10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%"]
    assert [t["text"] for t in out["leads"]] == ["0", "5", "10", "15", "20", "25", "30", "35", "40"]
    lead_y, rate_y, band_x = _scale(out["leads"], "y"), _scale(out["rates"], "y"), _band_scale(out["bands"])
    bottom = lead_y(0)
    for bar, leads, i in zip(out["bars"], (10, 20, 30, 40), range(4)):
        assert bar["y"] == pytest.approx(lead_y(leads)) and bar["y"] + bar["h"] == pytest.approx(bottom)
        assert bar["x"] + bar["w"] / 2 == pytest.approx(band_x(i))
        assert bar["w"] == pytest.approx(0.8 * (band_x(1) - band_x(0)))  # 0.8 of a band
    # the band without a rate has no point and breaks the line and the interval in two
    assert [(p["x"], p["y"]) for p in out["points"]] == [
        pytest.approx((band_x(i), rate_y(r))) for i, r in ((0, 2.0), (2, 25.0), (3, 50.0))]
    assert out["lines"] == 2 and out["intervals"] == 2
    assert out["points"][1]["label"] == ("series: draft: conversion; band: b2; conversion (%): 25.0; converted: 2; "
                                         "mature leads: 30; 95% interval: 12.5% to 37.5%")
    # MQL 30 at band 1's centre, the approved model's MQL 45 a quarter into band 2, SQL 50 at band 2's centre
    assert out["thresholds"] == [{"x": pytest.approx(band_x(1)), "approved": False},
                                 {"x": pytest.approx(band_x(1.75)), "approved": True},
                                 {"x": pytest.approx(band_x(2)), "approved": False}]
    assert out["labels"] == ["MQL 30", "approved MQL 45", "SQL 50"]
    assert out["diamonds"] == 3 and out["steps"] == []  # same cuts: the approved rates as points on a line
    assert out["legend"][-1] == "approved (m@2): conversion (whiskers: 95%)"


def test_other_cut_points_draw_steps_over_the_approved_bands_own_scores(chart):
    out = _draw(chart, band_figure(_result(40, 60), _result(40, 60, edges=((None, 30), (30, 60), (60, None)),
                                                                  rates=(0.05, 0.2, 0.4))))
    band_x, rate_y = _band_scale(out["bands"]), _scale(out["rates"], "y")
    assert [s["band"] for s in out["steps"]] == [[-0.5, 1.0], [1.0, 2.5], [2.5, 3.5]]
    assert [(s["x0"], s["x1"], s["y"]) for s in out["steps"]] == [
        pytest.approx((band_x(a), band_x(b), rate_y(r))) for a, b, r in ((-0.5, 1.0, 5), (1.0, 2.5, 20), (2.5, 3.5, 40))]


def test_a_move_redraws_in_place_and_a_narrower_column_redraws_narrower(chart):
    first = band_figure(_result(30, 50), _result(30, 50))
    chart.evaluate(DRAW, first.payload())
    svg = chart.evaluate_handle("() => window.__root.querySelector('svg')")
    point = chart.evaluate_handle("() => window.__root.querySelector('circle.lc-point')")
    moved = band_figure(_result(35, 50, rates=(0.04, 0.1, 0.3, 0.6)), _result(30, 50))
    out = _draw(chart, moved)
    assert chart.evaluate("(svg) => svg === window.__root.querySelector('svg')", svg)  # the same chart
    # a band gained a rate (a new point, a line unbroken): the marks are made anew
    assert not chart.evaluate("(p) => p === window.__root.querySelector('circle.lc-point')", point)
    point = chart.evaluate_handle("() => window.__root.querySelector('circle.lc-point')")
    again = band_figure(_result(35, 50, rates=(0.05, 0.1, 0.3, 0.6)), _result(30, 50))
    chart.evaluate(DRAW, again.payload())  # the same make-up, another number: the same point, moved
    assert chart.evaluate("(p) => p === window.__root.querySelector('circle.lc-point')", point)
    assert chart.evaluate("(p) => +p.getAttribute('cy')", point) == pytest.approx(_scale(out["rates"], "y")(5))
    # a higher interval (to 105%) makes other ticks (0-90% by 10 -> 0-120% by 20): the axis is remade, the
    # marks only move
    higher = band_figure(_result(35, 50, rates=(0.05, 0.1, 0.3, 0.7)), _result(30, 50))
    tall = _draw(chart, higher)
    assert [t["text"] for t in tall["rates"]] == [f"{v}%" for v in range(0, 121, 20)]
    assert chart.evaluate("(p) => p === window.__root.querySelector('circle.lc-point')", point)
    assert tall["points"][3]["y"] == pytest.approx(_scale(tall["rates"], "y")(70))
    out = _draw(chart, moved)
    assert out["svgs"] == 1 and out["labels"][0] == "MQL 35" and len(out["points"]) == 4
    rate_y = _scale(out["rates"], "y")
    assert [p["y"] for p in out["points"]] == pytest.approx([rate_y(r) for r in (4, 10, 30, 60)])
    assert out["width"] == 800
    chart.evaluate("() => { window.__root.style.width = '500px'; }")
    chart.wait_for_function("() => +window.__root.querySelector('svg').getAttribute('width') === 500")
    narrow = chart.evaluate(READ)
    assert narrow["bands"][-1]["x"] < out["bands"][-1]["x"]


def test_labels_are_text_and_hovering_a_point_shows_its_numbers(chart):
    markup = '<img src=x onerror="window.pwned=1">'
    result = _result(30, 50)
    result.bands[2] = dataclasses.replace(result.bands[2], band=f"40–60 {markup}")
    out = _draw(chart, band_figure(result, _result(45, 50), approved_label=f"approved ({markup}@1)"))
    chart.wait_for_timeout(50)  # an image's onerror would have run
    out = chart.evaluate(READ)
    assert out["elements"] == 0 and out["pwned"] is None
    assert out["bands"][2]["text"] == f"40–60 {markup}" and out["legend"][-1].startswith(f"approved ({markup}@1)")
    tip = chart.get_by_role("tooltip")
    chart.locator("circle.lc-point").nth(1).hover()
    assert tip.is_visible()
    assert tip.inner_text().split("\n") == ["band", f"40–60 {markup}", "conversion (%)", "25.0", "converted", "2",
                                            "mature leads", "30", "95% interval", "12.5% to 37.5%"]
    chart.mouse.move(1, 690)
    assert not tip.is_visible()
