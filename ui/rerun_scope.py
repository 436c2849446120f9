"""Which part of the Calibrate page a control's change reruns.

A slider move used to rerun the whole workspace fragment: the twelve sliders, their sections
and captions were re-sent and redrawn by the browser on every move, beside the results that
changed. The results are a fragment of their own inside the workspace (Streamlit's keyed
fragments); a control whose change alters nothing but the results reruns that fragment
alone, from its callback. Anything else (a control that relabels or reshapes other
controls, a change that flips "unsaved changes", an open panel drawn from the results
outside the fragment) reruns the workspace as before.
"""

from __future__ import annotations

import streamlit as st

from . import session

RESULTS = "calibrate_results"
"""The key of the results fragment (``ui.calibrate_view``)."""

DRILLDOWN = "drilldown"
"""The drill-down expander's key: drawn under both columns from the results, so while it is open a move
reruns the workspace."""


def results_only(dirty_before: bool) -> None:
    """From a control's callback, after it wrote its change into the draft: rerun only the results when
    nothing drawn outside them would change."""
    if st.session_state.get(DRILLDOWN) or session.is_dirty() != dirty_before:
        return  # the interaction's own rerun: the workspace
    st.rerun(RESULTS)
