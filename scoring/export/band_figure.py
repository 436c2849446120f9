"""The band chart of the live Calibrate page, as the numbers its browser component draws.

The same picture as :func:`scoring.export.charts.band_chart` (conversion by band with its
Wilson interval, mature leads as bars on the right axis, the approved model placed by score
range, the MQL / SQL lines), drawn by leadcal's own SVG component (``ui/band_chart.py``)
instead of plotly or Vega-Lite because that is what a slider move waits for: on the project's
2-core machine Vega-Lite's update of this chart took ~25 ms of the browser's main thread a
move, beside the server's scoring (benchmarks/RESULTS.md, issue 19). The HTML report keeps
plotly (one self-contained library, inlined once).

Everything here is data: positions on the band axis, rates in percent, labels as text. The
component lays out axes and ticks itself and sets every label as text, never as markup.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .charts import APPROVED, DRAFT, ThresholdMark, approved_spans, percent, threshold_marks

if TYPE_CHECKING:
    from ..analysis.report import CalibrationResult
    from ..model.metrics import BandRow

BAR_GREY = "#9e9e9e"


@dataclass(frozen=True)
class BandPoint:
    """One band on the draft's band axis (band i spans i - 0.5 .. i + 0.5): where it is drawn
    (``x``, from ``x0`` to ``x1``), its name and counts, its rate and 95% interval in percent
    (None where it has no mature lead)."""

    x: float
    x0: float
    x1: float
    band: str
    leads: int
    conversions: int
    rate: float | None
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Series:
    """A legend entry: its name and colour, and the mark it stands for (bar, line, area, approved)."""

    name: str
    colour: str
    mark: str


@dataclass(frozen=True)
class BandFigure:
    """The band chart's numbers and words: the draft's bands (bars, line, interval), the approved
    model's bands on the draft's axis (``aligned``: the same cut points, drawn as points joined by
    a line; else a step over the scores each covers, so a rate is never read under another band's
    label), the threshold lines, the legend, and the unit counted (leads or accounts)."""

    bands: list[BandPoint]
    approved: list[BandPoint]
    aligned: bool
    lines: list[ThresholdMark]
    legend: list[Series]
    unit: str
    approved_name: str | None

    def payload(self) -> dict[str, Any]:
        """What the browser component is sent (JSON)."""
        return asdict(self)


def _points(bands: list[BandRow], spans: list[tuple[float, float, float]]) -> list[BandPoint]:
    """Each band at (x, x0, x1)."""
    return [BandPoint(x=x, x0=x0, x1=x1, band=b.band, leads=b.leads, conversions=b.conversions, rate=percent(b.rate),
                      lo=percent(b.ci_low), hi=percent(b.ci_high))
            for b, (x, x0, x1) in zip(bands, spans)]


def band_figure(draft: CalibrationResult, approved: CalibrationResult | None = None, *, draft_label: str = "draft",
                approved_label: str = "approved", unit: str = "leads",
                line_names: tuple[str, str] = ("MQL", "SQL")) -> BandFigure:
    """Conversion by band over mature counts, with thresholds. Arguments as
    :func:`scoring.export.charts.band_chart`. A draft band's bar is 0.8 of its width; an approved band
    spans its own scores in full."""
    bands = draft.bands
    own = _points(bands, [(i, i - 0.4, i + 0.4) for i in range(len(bands))])
    aligned, theirs = True, []
    if approved is not None:
        aligned, spans = approved_spans(approved.bands, bands)
        theirs = _points(approved.bands, [((x0 + x1) / 2, x0, x1) for x0, x1 in spans])
    legend = [Series(f"{draft_label}: mature {unit} (right axis)", BAR_GREY, "bar"),
              Series(f"{draft_label}: conversion", DRAFT, "line"),
              Series(f"{draft_label}: 95% interval", DRAFT, "area")]
    name = None
    if approved is not None:
        name = f"{approved_label}: " + ("conversion (whiskers: 95%)" if aligned else "conversion over its own bands")
        legend.append(Series(name, APPROVED, "approved"))
    lines = threshold_marks(draft, approved, approved_label, line_names)
    return BandFigure(bands=own, approved=theirs, aligned=aligned, lines=lines, legend=legend, unit=unit,
                      approved_name=name)
