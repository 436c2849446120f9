"""Drift: does the approved model still describe the leads coming in? Score stability
per cohort against a reference period, which rules moved, band mix, and conversion by
band for cohorts whose outcomes are known."""

import datetime as dt

import pandas as pd
import streamlit as st

from scoring.analysis.drift import default_reference
from scoring.analysis.glossary import HELP
from scoring.data.source import SourceError
from scoring.export.charts import band_mix_chart, psi_chart, rule_psi_chart
from scoring.model.config import ConfigError
from ui import data, sidebar
from ui.text import plain

ctx = sidebar.render()
st.title("Score drift")
st.caption("PSI of the score per creation cohort against the reference period (bins fixed on the reference): "
           "below 0.1 stable, 0.1–0.25 investigate, 0.25 and above shifted. Cohorts are judged on leads whose "
           "scoring point has passed; conversion and AUC only once every outcome window has passed.")

c1, c2, c3 = st.columns([2, 2, 1])
with c1:
    config, ref_label, approval = data.pick_version(ctx, "drift_version")
try:
    features = data.features_for(ctx.db, config)
except (SourceError, ConfigError) as exc:
    st.error(plain(exc))
    st.stop()
if not features.point_in_time:
    st.info("This data has no creation times, so there are no cohorts to compare: drift needs them.")
    st.stop()
start, end = default_reference(features, approval)
with c2:
    picked = st.date_input("Reference period", value=(start.date(), (end - dt.timedelta(days=1)).date()),
                           key="drift_reference",
                           help="Default: the data the version was approved on, else the first six months.")
with c3:
    grain = st.radio("Cohorts", ["month", "week"], horizontal=True, key="drift_grain")
if not isinstance(picked, (tuple, list)) or len(picked) != 2:
    st.info("Pick the end of the reference period.")
    st.stop()
reference = (dt.datetime.combine(picked[0], dt.time()), dt.datetime.combine(picked[1], dt.time()) + dt.timedelta(days=1))
try:
    quality = data.quality_for(ctx.db, config, features, grain, 0.85)
except SourceError as exc:
    st.error(str(exc))
    st.stop()
try:
    result = data.monitor_for(ctx.db, config, features, quality, reference, grain, approval)
except ValueError as exc:
    st.error(plain(exc))
    st.stop()
drift = result.drift

show = {"stable": st.success, "investigate": st.warning, "unchecked": st.warning}.get(result.status, st.error)
show(f"**{plain(ref_label)}: {result.status}** (the scheduled `leadcal drift` would exit {result.exit_code})"
     + "".join(f"\n- {plain(r)}" for r in result.reasons))

st.plotly_chart(psi_chart(drift), width="stretch", key="psi_chart")
table = pd.DataFrame([{
    "cohort": c.cohort + (" (ref)" if c.in_reference else ""), "leads": c.leads, "scored": c.scored,
    "PSI": c.psi, "status": c.status, "MQL rate": c.mql_rate, "SQL rate": c.sql_rate,
    "conversion": c.conversion_rate, "AUC": c.auc, "outcomes known": c.mature,
} for c in drift.cohorts])
st.dataframe(table, hide_index=True, width="stretch", key="drift_table",
             column_config={"PSI": st.column_config.NumberColumn(format="%.3f", help=HELP["PSI"]),
                            "AUC": st.column_config.NumberColumn(format="%.3f", help=HELP["AUC"]),
                            **{c: st.column_config.NumberColumn(format="percent")
                               for c in ("MQL rate", "SQL rate", "conversion")}})

st.subheader("Which rule moved")
st.caption("Each rule's own PSI (points it gives, bins fixed on the reference) and its firing rate: the share "
           "of leads it gives points to.")
st.plotly_chart(rule_psi_chart(drift), width="stretch", key="rule_chart")
rules = list(drift.cohorts[0].rules) if drift.cohorts else []
firing = pd.DataFrame([{"cohort": c.cohort, **{r: c.rules[r].firing_rate for r in rules}}
                       for c in drift.cohorts])
st.dataframe(firing, hide_index=True, width="stretch", key="firing_table",
             column_config={r: st.column_config.NumberColumn(format="percent") for r in rules})

st.subheader("Band mix")
st.plotly_chart(band_mix_chart(drift), width="stretch", key="band_mix_chart")

st.subheader("Conversion by band, cohorts with known outcomes")
mature = [c for c in drift.cohorts if c.conversion_by_band]
if mature:
    conv = pd.DataFrame([{"cohort": c.cohort, **{b: row.rate for b, row in zip(drift.bands, c.conversion_by_band)}}
                         for c in mature])
    st.dataframe(conv, hide_index=True, width="stretch", key="conv_table",
                 column_config={b: st.column_config.NumberColumn(format="percent") for b in drift.bands})
else:
    st.info("No cohort has all its outcome windows passed yet.")
