"""A/B test: a challenger model tested on live leads against the approved champion. The
signed-off plan, then per arm how the leads converted, the difference on the primary
metric and a plain verdict that waits for the planned sample."""

import streamlit as st

from scoring.data.source import SourceError
from scoring.model.config import ConfigError
from scoring.registry.store import StoreError
from ui import abtest_view, sidebar
from ui.text import plain

ctx = sidebar.render()
store = ctx.store
st.title("Champion vs challenger")
st.caption("A test routes a share of new leads to a challenger model by a stable hash of the lead id. Rates count "
           "matured leads only (outcome window passed); the verdict waits for the sample fixed in the plan, so "
           "looking early cannot fake a result.")

tests = store.tests()
if not tests:
    st.info("No test recorded yet. Plan one with `leadcal abtest plan` (see the README's A/B test section): "
            "it computes the sample size from last year's leads and records the plan, signed off.")
    st.stop()
test = st.selectbox("Test", tests, index=len(tests) - 1, key="abtest_pick")
try:
    record, plan = abtest_view.plan_of(store, test)
except (StoreError, KeyError, TypeError) as exc:
    st.error(plain(exc))
    st.stop()

st.subheader("Plan")
abtest_view.plan_section(record, plan)

st.subheader("Readout")
try:
    with st.spinner("Scoring both models on the data..."):
        result = abtest_view.readout_of(ctx.db, store, record, plan)
except (SourceError, ConfigError, StoreError, ValueError) as exc:
    st.error(plain(exc))
    st.stop()
if ctx.segment_value is not None:
    st.caption("The readout counts every lead of the test: the sidebar's segment filter does not apply here.")
abtest_view.verdict_box(result)
abtest_view.arms_table(result)
abtest_view.difference_line(result)
