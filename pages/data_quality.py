"""Data quality: how complete each mapped column is, per cohort, and what else is off
(values the model does not name, duplicate ids, events of unknown leads, conversions
dated before the lead), so a broken form shows up in the month it broke."""

import pandas as pd
import streamlit as st

from scoring.data.source import SourceError
from scoring.export.charts import completeness_chart
from scoring.model.config import ConfigError
from ui import data, sidebar
from ui.text import plain

ctx = sidebar.render()
st.title("Data quality")

c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    config, ref_label, _ = data.pick_version(ctx, "dq_version")
with c2:
    grain = st.radio("Cohorts", ["month", "week"], horizontal=True, key="dq_grain")
with c3:
    threshold = st.slider("Alarm below (% filled)", 50, 100, 85, key="dq_threshold") / 100
try:
    features = data.features_for(ctx.db, config)
    if not features.point_in_time:
        st.info("This data has no creation times, so completeness cannot be shown per cohort; the whole-data "
                "findings are in the sidebar.")
        st.stop()
    quality = data.quality_for(ctx.db, config, features, grain, threshold)
except (SourceError, ConfigError) as exc:
    st.error(plain(exc))
    st.stop()

if quality.alarms:
    st.warning(f"{len(quality.alarms)} alarm(s):\n" + "".join(f"\n- {plain(a.message)}" for a in quality.alarms))
else:
    st.success(f"No alarms: every mapped column is at least {threshold:.0%} filled in every cohort.")

st.subheader("Completeness")
st.plotly_chart(completeness_chart(quality), width="stretch", key="completeness_chart")
filled = pd.DataFrame([{"cohort": c.cohort, "leads": c.leads, **c.filled} for c in quality.cohorts])
st.dataframe(filled, hide_index=True, width="stretch", key="completeness_table",
             column_config={col: st.column_config.NumberColumn(format="percent") for col in quality.columns})

st.subheader("Values the model does not name")
for column, info in quality.unnamed_values.items():
    top = ", ".join(f"{plain(v)} ({n:,})" for v, n in info.top_unnamed) or "none"
    st.markdown(f"**{plain(column)}**: most common unnamed values: {top}")
if quality.unnamed_values:
    unnamed = pd.DataFrame([{"cohort": cohort, **{col: info.by_cohort.get(cohort)
                                                  for col, info in quality.unnamed_values.items()}}
                            for cohort in next(iter(quality.unnamed_values.values())).by_cohort])
    st.dataframe(unnamed, hide_index=True, width="stretch", key="unnamed_table",
                 column_config={col: st.column_config.NumberColumn(format="percent")
                                for col in quality.unnamed_values})

st.subheader("Other problems per cohort")
problems = pd.DataFrame([{"cohort": c.cohort, **c.problems} for c in quality.cohorts
                         if any(k != "events" for k in c.problems)])
if problems.empty:
    st.info("No duplicate ids, events of unknown leads or conversions dated before creation.")
else:
    st.dataframe(problems.fillna(0), hide_index=True, width="stretch", key="problems_table")
if quality.findings:
    st.subheader("Whole data")
    st.dataframe(pd.DataFrame([f.to_dict() for f in quality.findings]), hide_index=True, width="stretch",
                 key="findings_table")
