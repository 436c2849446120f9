"""Calibrate: move the draft model's numbers and see, against the approved model, how
conversion by score band, MQL volume and capture would have looked on real outcomes.

The controls write the session's draft; the results are drawn from that same draft."""

import streamlit as st

from scoring.data.source import SourceError
from scoring.model.config import ConfigError
from ui import calibrate_view, data, session, sidebar
from ui.controls import draft_controls
from ui.text import plain

ctx = sidebar.render()
st.title("Calibrate the scoring model")
st.caption("The draft on the left, scored on every historical lead as of its scoring point; "
           "the approved model shown beside it. Only mature leads count in rates.")
applied = session.applied_message()
if applied:
    st.success(plain(applied))

with st.expander("Meeting settings", expanded=False):
    c1, c2 = st.columns(2)
    with c1:
        target = session.kept(st.slider, "sql_target", (10.0, 15.0), label="SQL conversion target (%)",
                              min_value=0.0, max_value=60.0, step=0.5, format="%.1f")
    with c2:
        capacity = session.kept(st.number_input, "capacity", 0, label="Sales capacity (leads a month; 0 = not set)",
                                min_value=0, step=50)
sql_target = (target[0] / 100, target[1] / 100)
capacity_per_month = float(capacity) if capacity else None

state = session.state()
controls, results = st.columns([1.25, 2.3], gap="large")
with controls:
    st.subheader("Draft model")
    st.caption(f"Started from **{plain(state.base_ref)}**"
               + (" · :orange[unsaved changes]" if session.is_dirty() else ""))
    draft = session.draft_config()
    try:  # the lead counts beside each category value
        categories_from = data.features_for(ctx.db, draft or session.base_config() or ctx.approved)
    except (SourceError, ConfigError, ValueError):
        categories_from = None
    draft_controls(state.data, state.seeded, categories_from)
    draft = session.draft_config()  # what the controls now show: the one draft scored, saved and downloaded

with results:
    calibrate_view.results(ctx, draft, sql_target, capacity_per_month)

with controls:
    st.divider()
    calibrate_view.draft_actions(ctx, draft)
