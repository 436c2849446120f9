"""The Calibrate page's KPI rows as one small component of leadcal's own.

A slider move redraws the KPIs. Drawn as Streamlit metrics, each of the seven figures was
its own element the browser re-rendered on every move, with their two row containers. This
component draws its cards once and then only sets the new figures as text: the browser's
work a move at 1M leads fell from 136 to 126 ms on the 2-core machine (issue 19; the
figures are in benchmarks/RESULTS.md).
It looks like Streamlit's metric and takes the theme's colours; every string is set as
text, never as markup.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import streamlit as st

from .kpi_metrics import Kpi

_ASSETS = Path(__file__).parent / "assets"

COMPONENT = "leadcal_kpis"
"""The component's name, as AppTest and the browser's DOM see it."""

_KPI_ROWS = st.components.v2.component(
    COMPONENT, js=(_ASSETS / "kpi_row.js").read_text(encoding="utf-8"),
    css=(_ASSETS / "kpi_row.css").read_text(encoding="utf-8"), isolate_styles=False)


def kpi_rows(rows: list[list[Kpi]], key: str) -> None:
    """Rows of KPIs with their change from the approved model. ``key`` keeps the component in place across
    reruns, so a move updates the figures of the cards the browser has instead of mounting new ones."""
    _KPI_ROWS(key=key, data={"rows": [[asdict(k) for k in row] for row in rows]})
