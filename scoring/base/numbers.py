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


def money(value: float | None, currency: str | None = None, compact: bool = False) -> str:
    """An amount as a person writes it: ``£1,234,567`` (or ``£1.2M`` when ``compact``), ``EUR 45,600``.

    A symbol (one character, e.g. ``£``, ``$``, ``€``) goes before the number; a code (``EUR``)
    before it with a space; no currency, the plain number. None (no figure) is ``-``.
    """
    if value is None or not math.isfinite(value):
        return "-"
    sign, amount = ("-" if value < 0 else ""), abs(value)
    if compact and amount >= 1e6:
        text = f"{amount / 1e6:,.1f}M"
    elif compact and amount >= 1e4:
        text = f"{amount / 1e3:,.0f}k"
    else:
        text = f"{amount:,.0f}"
    if not currency:
        return sign + text
    return f"{sign}{currency}{text}" if len(currency) == 1 else f"{sign}{currency} {text}"
