"""The KPI row of the Calibrate page: a figure with its change from the approved model.

Kept out of the page script on purpose: a function defined in a page refers to the page's
namespace, which refers back to it, so each rerun's namespace (with the draft's per-lead
scores, 250 MB at 10M leads) lived until Python's cycle collector ran.
"""

from __future__ import annotations


def pct(x: float | None) -> str:
    """A share as a percentage with one decimal, '-' when there is none."""
    return "-" if x is None else f"{100 * x:.1f}%"


def metric(col, label: str, value: str, now: float | None, before: float | None, scale: float = 1.0,
           unit: str = "", digits: int = 3, higher_is_better: bool = True) -> None:
    """A KPI with its change from the approved model (grey when unchanged)."""
    if now is None or before is None or abs(now - before) < 1e-12:
        col.metric(label, value, "same" if now is not None else None, delta_color="gray", delta_arrow="off")
        return
    col.metric(label, value, f"{scale * (now - before):+,.{digits}f}{unit}",
               delta_color="normal" if higher_is_better else "inverse")
