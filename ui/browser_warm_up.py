"""The code of the results' elements, fetched by a new browser session while the server works.

A browser fetches and compiles an element type's JavaScript the first time one arrives: the
KPI and band chart components' and the table's. Fetched when the first
view's results came, that took ~0.7 s of a 10M-lead restart (this 2-core machine), the KPIs
waiting for it after the server was done. So a session's first run draws one of each, hidden,
before any work, and takes them away once the page is drawn: the browser loads that code
while the server reads the data and scores it.
"""

from __future__ import annotations

import pyarrow as pa
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from scoring.export.band_figure import BandFigure

from .band_chart import band_chart
from .kpi_metrics import Kpi
from .kpi_row import kpi_rows

KEY = "leadcal_browser_warm_up"
"""The hidden container's key (its CSS class is ``st-key-`` + this)."""

_DONE = "leadcal_browser_warmed_up"
"""Session-state flag: this session's browser was given the elements (not a widget key)."""


def begin() -> DeltaGenerator:
    """The warm-up's slot, drawn on every full run (so the page's elements keep their place) and
    filled on a session's first run only; ``slot.empty()`` once the page is drawn. A page that stops
    (``st.stop``: no element can be drawn after it) leaves the hidden elements until the next run."""
    slot = st.empty()
    if not st.session_state.get(_DONE):
        st.session_state[_DONE] = True
        with slot.container(key=KEY):
            st.html(f"<style>.st-key-{KEY} {{display: none}}</style>")
            kpi_rows([[Kpi("warm-up", "0")]], key="warm_up_kpis")
            band_chart(BandFigure([], [], True, [], [], "leads", None), key="warm_up_band_chart")
            st.dataframe(pa.table({"x": [0]}), hide_index=True)  # Arrow: no wait for pandas' import
    return slot
