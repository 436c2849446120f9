"""The Calibrate page's band chart as one small component of leadcal's own.

A slider move redraws the band chart. Drawn by Vega-Lite (``st.vega_lite_chart``), each move
re-sent its datasets and Vega-Lite re-ran its data flow and re-rendered the scene, ~25 ms of the
browser's main thread a move on the 2-core machine, taken from the server's scoring at 10M leads
(issue 19; benchmarks/RESULTS.md). This component draws an SVG from the numbers of
:class:`scoring.export.band_figure.BandFigure` and redraws only when they or the width change.
Its labels are set as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from scoring.export.band_figure import BandFigure

_ASSETS = Path(__file__).parent / "assets"

COMPONENT = "leadcal_band_chart"
"""The component's name, as AppTest and the browser's DOM see it."""

_BAND_CHART = st.components.v2.component(
    COMPONENT, js=(_ASSETS / "band_chart.js").read_text(encoding="utf-8"),
    css=(_ASSETS / "band_chart.css").read_text(encoding="utf-8"), isolate_styles=False)


def band_chart(figure: BandFigure, key: str) -> None:
    """The band chart of ``figure``. ``key`` keeps the component in place across reruns, so a move
    redraws the chart the browser has instead of mounting a new one."""
    _BAND_CHART(key=key, data=figure.payload())
