"""Calibrate: move the draft model's numbers and see, against the approved model, how
conversion by score band, MQL volume and capture would have looked on real outcomes.

The controls write the session's draft; the results are drawn from that same draft. The
controls and results are one fragment (ui.calibrate_view.workspace): a slider move reruns
that part only."""

import streamlit as st

from scoring.model.kpis import DEFAULT_SQL_TARGET
from ui import calibrate_view, session, sidebar
from ui.text import plain

# the controls say "unsaved changes" above themselves; a new database's quality findings follow the first
# view, checked once the meeting pauses
ctx = sidebar.render(draft_line=False, quality_later=True)
st.title("Calibrate the scoring model")
st.caption("The draft on the left, scored on every historical lead as of its scoring point. Under each figure: the "
           f"change from the approved model ({plain(ctx.approved_ref)}); hover the question mark beside a figure for "
           "what it means. Only mature leads count in rates.")
applied = session.applied_message()
if applied:
    st.success(plain(applied))

with st.expander("Meeting settings", expanded=False):
    c1, c2 = st.columns(2)
    with c1:
        target = session.kept(st.slider, "sql_target", (100 * DEFAULT_SQL_TARGET[0], 100 * DEFAULT_SQL_TARGET[1]),
                              label="SQL conversion target (%)", min_value=0.0, max_value=60.0, step=0.5, format="%.1f")
    with c2:
        capacity = session.kept(st.number_input, "capacity", 0, label="Sales capacity (leads a month; 0 = not set)",
                                min_value=0, step=50)
sql_target = (target[0] / 100, target[1] / 100)
capacity_per_month = float(capacity) if capacity else None


calibrate_view.draft_actions(ctx)  # save, load, reset, download: redrawn on a full run, never on a slider move
calibrate_view.workspace(ctx, sql_target, capacity_per_month)  # controls and results: a fragment
calibrate_view.glossary_expander()  # outside the fragment: a slider move does not re-send it
