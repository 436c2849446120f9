"""Numbers people read: bin edges and points rounded to what a person would write."""

from __future__ import annotations

import math


def nice(x: float) -> float:
    """``x`` rounded to two significant digits (1234 -> 1200, 0.456 -> 0.46)."""
    if x == 0 or not math.isfinite(x):
        return 0.0
    digits = 1 - int(math.floor(math.log10(abs(x))))
    value = round(x, digits)
    return float(int(value)) if value == int(value) else value
