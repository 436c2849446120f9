"""ui.kpi_metrics: what the line under a Calibrate KPI says, and in which colour."""

from __future__ import annotations

from ui.kpi_metrics import Kpi, kpi


def test_a_kpi_that_is_better_lower_turns_red_when_it_rises():
    """kpi(): the tone follows whether the change is good, not its sign; a change that rounds away is grey."""
    assert kpi("x", "", 0.30, 0.25, 100, " pts", 1, higher_is_better=False) == Kpi(
        "x", "", "+5.0 pts", "red", "up", None)
    assert kpi("x", "", 0.20, 0.25, 100, " pts", 1, higher_is_better=False).tone == "green"
    assert kpi("x", "", 0.25004, 0.25, 100, " pts", 1) == Kpi("x", "", "same", "gray", None, None)
    assert kpi("x", "-", None, 0.25) == Kpi("x", "-", None, "gray", None, None)
