"""Let the data speak: how each attribute converts and what the draft pays for it, points
suggested from outcomes, decay and thresholds from the data, and what a score means as a
probability. Everything is judged on mature leads; suggestions on a later hold-out period."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from scoring.analysis.attributes import LEAKAGE_IV, MIN_LEADS, probe_config
from scoring.analysis.suggest import HOLDOUT_SHARE
from scoring.data.source import SourceError
from scoring.model.config import ConfigError
from ui import attributes_view as view
from ui import data, session, sidebar
from ui.text import plain

ctx = sidebar.render()
st.title("Let the data speak")
st.caption("How every fit value and engagement rule actually converted, beside the points the draft gives; "
           "points, decay and thresholds suggested from the outcomes and judged on a later period they never "
           "saw. Only mature leads count.")

applied = session.applied_message()
if applied:
    st.success(applied)
    try:
        st.page_link("pages/calibrate.py", label="Open the Calibrate page to adjust and save it",
                     icon=":material/tune:")
    except StreamlitAPIException:  # the page runs outside app.py's navigation (tests)
        pass

draft = session.draft_config()
if draft is None:
    st.error("The Calibrate page's draft is not valid, so there is nothing to analyse until it is fixed there:\n\n"
             + "\n".join(f"- {plain(p)}" for p in session.state().problems))
    st.stop()
st.caption(f"The draft is the Calibrate page's current draft (**{plain(draft.name)}**, from "
           f"{plain(session.state().base_ref)}); the approved model is **{plain(ctx.approved_ref)}**.")

with st.expander("Settings", expanded=False):
    c1, c2, c3 = st.columns(3)
    min_leads = c1.number_input("Warn below this many mature leads", min_value=1, value=MIN_LEADS, step=5,
                                key="attr_min_leads")
    leakage_iv = c2.number_input("Flag possible leakage above IV", min_value=0.1, value=LEAKAGE_IV, step=0.1,
                                 key="attr_leakage_iv",
                                 help="Credit scoring calls IV > 0.5 suspicious; hand-raiser signals such as a "
                                      "demo request legitimately reach 0.5-1 in lead data.")
    share = c3.slider("Hold-out share (the latest mature leads)", 0.1, 0.5, HOLDOUT_SHARE, step=0.05,
                      key="attr_holdout")
    try:
        candidates = data.candidate_columns_for(ctx.db, draft)
    except (SourceError, OSError):
        candidates = []
    extra = st.multiselect("Also analyse these columns of the leads table (not in the model)", candidates,
                           key="attr_extra", help="Reads them from DuckDB once; a field the model ignores may "
                                                  "predict conversion (or leak the outcome).")

try:
    features = data.features_beside(ctx.db, probe_config(draft, extra), ctx.approved)
except (SourceError, ConfigError, ValueError) as exc:
    st.error(plain(exc))
    st.stop()
features = data.segment_view(ctx.db, features, ctx.segment_column, ctx.segment_value)

TABS = ["Attributes", "Suggested points", "Decay", "Thresholds", "Calibration"]
for label, tab in session.kept_tabs(TABS, "attributes_tab"):  # only the open tab runs; it stays open
    with tab:
        if label == "Attributes":
            view.attributes_tab(data.attributes_for(ctx.db, features, draft, ctx.segment_value, int(min_leads),
                                                    float(leakage_iv), extra), float(leakage_iv))
        elif label == "Suggested points":
            view.suggestion_tab(ctx.db, features, draft, ctx.approved, ctx.approved_ref, ctx.segment_value,
                                float(share), float(leakage_iv))
        elif label == "Decay":
            view.decay_tab(ctx.db, features, draft, ctx.segment_value, float(share))
        elif label == "Thresholds":
            view.thresholds_tab(features, draft)
        else:
            view.calibration_tab(features, draft, float(share))
