"""The KPIs of the Calibrate page: a figure with its change from the approved model, as
``ui.kpi_row`` draws it.

Kept out of the page script on purpose: a function defined in a page refers to the page's
namespace, which refers back to it, so each rerun's namespace (with the draft's per-lead
scores, 250 MB at 10M leads) lived until Python's cycle collector ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scoring.analysis.glossary import HELP

Tone = Literal["green", "red", "orange", "gray"]


@dataclass(frozen=True)
class Kpi:
    """One figure as the KPI rows show it: its value and the line under it, both as text."""

    label: str
    value: str
    delta: str | None = None
    """The line under the value ('+0.012', 'same', 'on target'); None draws none."""
    tone: Tone = "gray"
    arrow: Literal["up", "down"] | None = None
    help: str | None = None


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


def kpi(label: str, value: str, now: float | None, before: float | None, scale: float = 1.0, unit: str = "",
        digits: int = 3, higher_is_better: bool = True, help_text: str | None = None) -> Kpi:
    """A KPI with its change from the approved model: green when better, red when worse, grey with no arrow
    when it rounds to no change; its help from the glossary unless given."""
    delta = delta_text(now, before, scale, unit, digits)
    help_text = help_text if help_text is not None else HELP.get(label)
    if delta in (None, "same"):
        return Kpi(label, value, delta, "gray", None, help_text)
    up = not delta.startswith("-")
    return Kpi(label, value, delta, "green" if up == higher_is_better else "red", "up" if up else "down", help_text)
