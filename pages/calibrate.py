"""Calibrate: move the draft model's numbers and see, against the approved model, how
conversion by score band, MQL volume and capture would have looked on real outcomes."""

import pandas as pd
import streamlit as st

from scoring.calibrate import calibration_view
from scoring.charts import band_chart, distribution_chart, grid_chart
from scoring.config import ConfigError
from scoring.source import SourceError
from scoring.store import StoreError
from ui import data, session, sidebar
from ui.controls import draft_from_controls
from ui.kpi_metrics import metric, pct

ctx = sidebar.render()
st.title("Calibrate the scoring model")
st.caption("The draft on the left, scored on every historical lead as of its scoring point; "
           "the approved model shown beside it. Only mature leads count in rates.")

with st.expander("Meeting settings", expanded=False):
    c1, c2 = st.columns(2)
    with c1:
        target = st.slider("SQL conversion target (%)", 0.0, 60.0, (10.0, 15.0), step=0.5, key="sql_target")
    with c2:
        capacity = st.number_input("Sales capacity (leads a month; 0 = not set)", min_value=0, value=0,
                                   step=50, key="capacity")
sql_target = (target[0] / 100, target[1] / 100)
capacity_per_month = float(capacity) if capacity else None

base = session.base_config(ctx.approved)
controls, results = st.columns([1, 2.3], gap="large")

with controls:
    st.subheader("Draft model")
    try:
        categories_from = data.features_for(ctx.db, base)
    except (SourceError, ConfigError, ValueError):
        categories_from = None
    typed, problems = draft_from_controls(base, categories_from)
    draft = session.remember_valid(typed)

with results:
    if problems:
        st.error("The draft is not valid, so it is not shown or saved:\n\n"
                 + "\n".join(f"- {p}" for p in problems))
    if draft is None:
        st.stop()
    try:  # one extraction for both, unless the evaluation window changed (each on its own point in time)
        draft_features = data.features_beside(ctx.db, draft, ctx.approved)
        features = data.features_beside(ctx.db, ctx.approved, draft)
    except (SourceError, ConfigError) as exc:
        st.error(f"{exc}")
        st.stop()
    draft_features = data.segment_view(ctx.db, draft_features, ctx.segment_column, ctx.segment_value)
    features = data.segment_view(ctx.db, features, ctx.segment_column, ctx.segment_value)
    approved = data.approved_view(ctx.db, features, ctx.approved, ctx.segment_value, sql_target,
                                  capacity_per_month)
    view = calibration_view(draft, ctx.approved, draft_features, sql_target, capacity_per_month,
                            approved_view=approved)
    d, a = view.draft.kpis, view.approved.kpis

    st.caption(f"Under each figure: the change from the approved model ({ctx.approved_ref}).")
    k = st.columns(6)
    metric(k[0], "AUC", "-" if d["auc"] is None else f"{d['auc']:.3f}", d["auc"], a["auc"])
    metric(k[1], "Gini", "-" if d["gini"] is None else f"{d['gini']:.3f}", d["gini"], a["gini"])
    metric(k[2], "MQLs per month", "-" if d["mql_per_month"] is None else f"{d['mql_per_month']:,.0f}",
           d["mql_per_month"], a["mql_per_month"],
           digits=0)
    metric(k[3], "MQL conversion", pct(d["mql"]["rate"]), d["mql"]["rate"], a["mql"]["rate"], 100, " pts", 1)
    rate = d["sql"]["rate"]
    where = ("no SQLs" if rate is None else "on target" if d["sql_on_target"]
             else "above target" if rate > sql_target[1] else "below target")
    k[4].metric("SQL conversion", pct(rate), where, help=f"Target {target[0]:g}–{target[1]:g}% (Meeting settings)",
                delta_color="green" if d["sql_on_target"] else "orange", delta_arrow="off")
    metric(k[5], "Conversions ≥ MQL", pct(d["capture_at_mql"]), d["capture_at_mql"], a["capture_at_mql"],
           100, " pts", 1)

    if not draft_features.point_in_time:
        st.info("This data has no creation times, so leads are not scored at a point in time: every recorded "
                "activity counts, open outcomes are left out as immature, and there are no monthly volumes.")
    for message in view.warnings:
        st.warning(message)

    st.plotly_chart(band_chart(view.draft.result, view.approved.result), width="stretch", key="band_chart")

    tabs = st.tabs(["Band table", "Movers", "Fit × engagement", "Score distribution", "Changes vs approved"])
    with tabs[0]:
        bands = pd.DataFrame(view.draft.result["bands"])[
            ["band", "leads", "conversions", "rate", "ci_low", "ci_high", "lift", "share", "capture",
             "immature", "small"]]
        st.dataframe(bands.iloc[::-1], hide_index=True, width="stretch", key="band_table",
                     column_config={c: st.column_config.NumberColumn(format="percent")
                                    for c in ("rate", "ci_low", "ci_high", "share", "capture")}
                     | {"lift": st.column_config.NumberColumn(format="%.2f"),
                        "small": st.column_config.CheckboxColumn("< 30 leads")})
    with tabs[1]:
        st.caption("Leads that cross the MQL or SQL line going from the approved model to the draft, "
                   "and how they actually converted (mature leads).")
        st.dataframe(pd.DataFrame([{"line": m.line, "direction": m.direction, "leads": m.leads,
                                    "mature": m.mature, "conversions": m.conversions, "rate": m.rate}
                                   for m in view.movers]),
                     hide_index=True, width="stretch", key="movers",
                     column_config={"rate": st.column_config.NumberColumn(format="percent")})
    with tabs[2]:
        fc, ec = view.grid_cuts["fit"], view.grid_cuts["engagement"]
        st.caption(f"Fit A ≥ {fc[1]:g} > B ≥ {fc[0]:g} > C; engagement 1 ≥ {ec[1]:g} > 2 ≥ {ec[0]:g} > 3.")
        st.plotly_chart(grid_chart(view.grid), width="stretch", key="grid_chart")
    with tabs[3]:
        st.plotly_chart(distribution_chart(view.histogram), width="stretch", key="dist_chart")
    with tabs[4]:
        if view.diff:
            st.dataframe(pd.DataFrame(view.diff).astype(str), hide_index=True, width="stretch", key="diff")
        else:
            st.info("The draft is the approved model.")

with controls:
    st.divider()
    st.subheader("Save, load, reset")
    st.caption(f"Saving adds a new version of the model; nothing is ever overwritten. "
               f"The approved model here is {ctx.approved_ref}.")
    name = st.text_input("Model name", value=ctx.model, key="save_name")
    note = st.text_area("Note", key="save_note", placeholder="What changed and why")
    if st.button("Save draft", type="primary", key="save", disabled=draft is None or bool(problems)):
        try:
            version = ctx.store.save(name, draft, note=note, parent=session.parent_ref(ctx.approved_ref))
        except (StoreError, OSError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Saved as {version.ref} ({version.path})")
    refs = [f"{v.ref}" for m in ctx.store.models() for v in reversed(ctx.store.versions(m))]
    pick = st.selectbox("Saved versions", refs, key="load_name") if refs else None
    c1, c2 = st.columns(2)
    if c1.button("Load", key="load", disabled=pick is None):
        try:
            ref_name, _, ref_version = pick.partition("@")
            session.start_from(ctx.store.load(ref_name, int(ref_version)), pick)
        except (ConfigError, StoreError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
    if c2.button("Reset to approved", key="reset"):
        session.start_from(None)
        st.rerun()
    st.download_button("Download draft YAML", data.yaml_of(draft), file_name=f"{draft.name}-draft.yaml",
                       mime="text/yaml", key="download")
