"""The KPI row of the Calibrate page: a figure with its change from the approved model.

Kept out of the page script on purpose: a function defined in a page refers to the page's
namespace, which refers back to it, so each rerun's namespace (with the draft's per-lead
scores, 250 MB at 10M leads) lived until Python's cycle collector ran.
"""

from __future__ import annotations

from scoring.analysis.glossary import HELP


def pct(x: float | None) -> str:
    """A share as a percentage with one decimal, '-' when there is none."""
    return "-" if x is None else f"{100 * x:.1f}%"


def delta_text(now: float | None, before: float | None, scale: float = 1.0, unit: str = "",
               digits: int = 3) -> str | None:
    """The change as shown ('+1.2 pts'), 'same' when it rounds to nothing, None without a figure."""
    if now is None:
        return None
    if before is None:
        return "same"
    text = f"{scale * (now - before):+,.{digits}f}"
    if float(text.replace(",", "")) == 0:  # '+0.000' is no change: no green arrow on it
        return "same"
    return text + unit


def metric(col, label: str, value: str, now: float | None, before: float | None, scale: float = 1.0,
           unit: str = "", digits: int = 3, higher_is_better: bool = True) -> None:
    """A KPI with its change from the approved model (grey when it rounds to no change), and its help."""
    delta = delta_text(now, before, scale, unit, digits)
    help_text = HELP.get(label)
    if delta in (None, "same"):
        col.metric(label, value, delta, delta_color="gray", delta_arrow="off", help=help_text)
        return
    col.metric(label, value, delta, delta_color="normal" if higher_is_better else "inverse", help=help_text)
