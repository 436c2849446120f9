"""The KPIs a page drew, read from what the browser gets: the Calibrate page's KPI rows are one
component of leadcal's own (``ui.kpi_row``), not Streamlit metrics, so AppTest sees their data."""

from __future__ import annotations

import json

from ui.kpi_metrics import Kpi
from ui.kpi_row import COMPONENT


def shown_kpis(at) -> list[Kpi]:
    """Every KPI of every KPI row in the app's tree, in page order: label, value, the line under it, help."""
    shown = []
    for element in at.get("bidi_component"):
        proto = element.proto
        if proto.component_name != COMPONENT:
            continue
        data = json.loads(proto.json if proto.WhichOneof("data") == "json" else proto.mixed.json)
        shown += [Kpi(**k) for row in data["rows"] for k in row]
    return shown
