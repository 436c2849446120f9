"""What a page drew in leadcal's own components, read from what the browser gets: the Calibrate page's KPI
rows (``ui.kpi_row``) and band chart (``ui.band_chart``) are components, not Streamlit metrics or charts,
so AppTest sees their data."""

from __future__ import annotations

import json
from typing import Any

from ui import band_chart, kpi_row
from ui.kpi_metrics import Kpi


def component_data(at, name: str) -> list[dict[str, Any]]:
    """The data sent to every component named ``name`` in the app's tree, in page order."""
    out = []
    for element in at.get("bidi_component"):
        proto = element.proto
        if proto.component_name == name:
            out.append(json.loads(proto.json if proto.WhichOneof("data") == "json" else proto.mixed.json))
    return out


def shown_kpis(at) -> list[Kpi]:
    """Every KPI of every KPI row in the app's tree, in page order: label, value, the line under it, help."""
    return [Kpi(**k) for data in component_data(at, kpi_row.COMPONENT) for row in data["rows"] for k in row]


def shown_band_charts(at) -> list[dict[str, Any]]:
    """The numbers of every band chart in the app's tree (``BandFigure.payload()`` as the browser reads it)."""
    return component_data(at, band_chart.COMPONENT)
