"""The band chart shows the result's numbers and puts the threshold lines where the scores fall."""

from __future__ import annotations

from scoring.charts import APPROVED, DRAFT, band_chart


def _result(mql, sql):
    edges = [(None, 20), (20, 40), (40, 60), (60, None)]
    rates = [0.02, None, 0.25, 0.5]
    return {
        "thresholds": {"mql": mql, "sql": sql},
        "bands": [{"band": f"b{i}", "low": lo, "high": hi, "leads": 10 * (i + 1), "conversions": i,
                   "rate": r, "ci_low": None if r is None else r / 2, "ci_high": None if r is None else r * 1.5}
                  for i, ((lo, hi), r) in enumerate(zip(edges, rates))],
    }


def test_band_chart_traces_lines_and_labels():
    draft, approved = _result(30, 50), _result(45, 50)
    fig = band_chart(draft, approved)
    bars, *rates = fig.data
    assert list(bars.y) == [10, 20, 30, 40] and bars.yaxis == "y2"  # mature leads on the right axis
    by_name = {t.name: t for t in rates}
    assert list(by_name["draft conversion"].y) == [2.0, None, 25.0, 50.0]  # percent, gaps where no rate
    assert list(by_name["approved conversion"].y) == [2.0, None, 25.0, 50.0]
    assert list(by_name["draft 95% interval"].y) == [1.0, None, 12.5, 25.0]  # the lower bound, filled up to the upper
    assert all(t.yaxis == "y" for t in rates)
    assert list(fig.layout.xaxis.ticktext) == ["b0", "b1", "b2", "b3"]
    # band i spans i - 0.5 .. i + 0.5: 30 is half way through 20-40 (band 1), 45 a quarter into 40-60
    lines = [(s.x0, s.line.color, s.line.dash) for s in fig.layout.shapes]
    assert lines == [(1.0, DRAFT, None), (1.75, APPROVED, "dot"), (2.0, DRAFT, None)]  # SQL unchanged: one line
    assert [a.text for a in fig.layout.annotations] == ["MQL 30", "approved MQL", "SQL 50"]
    assert all(s.yref == "y domain" and (s.y0, s.y1) == (0, 1) for s in fig.layout.shapes)  # full height


def test_band_chart_without_approved_model():
    fig = band_chart(_result(10, 70))
    assert [t.name for t in fig.data] == ["draft leads", None, "draft 95% interval", "draft conversion"]
    assert [s.x0 for s in fig.layout.shapes] == [-0.5, 2.5]  # open-ended bands: their left edge
    assert [a.text for a in fig.layout.annotations] == ["MQL 10", "SQL 70"]
