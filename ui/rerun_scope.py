"""Which part of the Calibrate page a control's change reruns.

A slider move used to rerun the whole workspace fragment: the twelve sliders, their sections
and captions were re-sent and redrawn by the browser on every move, beside the results that
changed. The results are a fragment of their own inside the workspace (Streamlit's keyed
fragments); a control whose change alters nothing but the results reruns that fragment
alone, from its callback. Anything else (a control that relabels or reshapes other
controls, a change that leaves the workspace's "unsaved changes" line wrong, an open panel
drawn from the results outside the fragment) reruns the workspace as before.
"""

from __future__ import annotations

import streamlit as st

from . import session

RESULTS = "calibrate_results"
"""The key of the results fragment (``ui.calibrate_view``)."""

DRILLDOWN = "drilldown"
"""The drill-down expander's key: drawn under both columns from the results, so while it is open a move
reruns the workspace."""


SHOWN_DIRTY = "_workspace_shows_unsaved"
"""Whether the workspace's last finished run said "unsaved changes" above the controls."""


def workspace_drawn(dirty: bool) -> None:
    """At the end of a workspace run: what its "unsaved changes" line now says. Set only once the run got
    that far: a run cut short by the next key press (a quick second press) leaves the old value, so that
    press reruns the workspace again instead of only the results under a stale line."""
    st.session_state[SHOWN_DIRTY] = dirty


def results_only() -> None:
    """From a control's callback, after it wrote its change into the draft: rerun only the results when
    nothing drawn outside them would change (compared with what the workspace last drew, not with the
    draft before this change: a press that flipped the line may have had its rerun cut short)."""
    if st.session_state.get(DRILLDOWN) or session.is_dirty() != st.session_state.get(SHOWN_DIRTY):
        return  # the interaction's own rerun: the workspace
    st.rerun(RESULTS)
