"""Let the data speak: how each attribute converts and what the draft pays for it, points
suggested from outcomes, decay and thresholds from the data, and what a score means as a
probability. Everything is judged on mature leads; suggestions on a later hold-out period."""

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitAPIException

from scoring.attributes import (
    LEAKAGE_IV,
    MIN_LEADS,
    attribute_table,
    candidate_columns,
    flat_rows,
    probe_config,
    summary_rows,
)
from scoring.config import ConfigError, config_to_dict
from scoring.diff import config_diff
from scoring.features import feature_spec, spec_cache_key, union_spec
from scoring.kpis import DEFAULT_SQL_TARGET
from scoring.source import SourceError, open_source
from scoring.suggest import (
    HOLDOUT_SHARE,
    MQL_CAPTURE,
    compare_auc,
    compare_decays,
    curve_points,
    decay_configs,
    decay_label,
    holdout_split,
    reliability,
    suggest_points,
    suggest_thresholds,
    with_decay,
    with_thresholds,
)
from ui import data, session, sidebar

FONT = dict(size=16)
PCT = st.column_config.NumberColumn(format="percent")

ctx = sidebar.render()
st.title("Let the data speak")
st.caption("How every fit value and engagement rule actually converted, beside the points the draft gives; "
           "points, decay and thresholds suggested from the outcomes and judged on a later period they never "
           "saw. Only mature leads count.")

applied = st.session_state.pop("attributes_applied", None)
if applied:
    st.success(applied)
    try:
        st.page_link("pages/calibrate.py", label="Open the Calibrate page to adjust and save it",
                     icon=":material/tune:")
    except StreamlitAPIException:  # the page runs outside app.py's navigation (tests)
        pass

draft = session.remember_valid(None) or session.base_config(ctx.approved)
st.caption(f"The draft is the Calibrate page's current draft (**{draft.name}**); the approved model is "
           f"**{ctx.approved_ref}**.")


def _db_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _key(config) -> str:
    return json.dumps(config_to_dict(config), sort_keys=True)


@st.cache_data(max_entries=8, show_spinner=False)
def _columns(db_key: str, config_json: str, _path: str, _config) -> list[str]:
    with open_source(_path) as source:
        return candidate_columns(source, _config)


@st.cache_resource(max_entries=8, show_spinner="Fitting suggested points on the training period...")
def _suggestion(db_key: str, spec_key: str, config_json: str, segment: str | None, share: float, seed: int,
                _config, _features):
    return suggest_points(_config, _features, holdout_share=share, seed=seed)


@st.cache_resource(max_entries=4, show_spinner="Refitting the points under every decay option...")
def _decays(db_key: str, spec_key: str, config_json: str, segment: str | None, share: float, seed: int,
            _config, _features):
    split = holdout_split(_features, share, seed)
    return compare_decays(_config, _features, split, seed=seed)


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
    seed = 0
    try:
        candidates = _columns(_db_key(ctx.db), _key(draft), str(ctx.db), draft)
    except (SourceError, OSError):
        candidates = []
    extra = st.multiselect("Also analyse these columns of the leads table (not in the model)", candidates,
                           key="attr_extra", help="Reads them from DuckDB once; a field the model ignores may "
                                                  "predict conversion (or leak the outcome).")

probe = probe_config(draft, extra)
try:
    if union_spec(feature_spec(probe), feature_spec(ctx.approved)) is not None:
        features = data.features_for(ctx.db, probe, ctx.approved)
    else:
        features = data.features_for(ctx.db, probe)
except (SourceError, ConfigError, ValueError) as exc:
    st.error(str(exc))
    st.stop()
features = data.segment_view(ctx.db, features, ctx.segment_column, ctx.segment_value)
db_key, spec_key = _db_key(ctx.db), spec_cache_key(features.spec)

tabs = st.tabs(["Attributes", "Suggested points", "Decay", "Thresholds", "Calibration"])

# ------------------------------------------------------------------ attributes
with tabs[0]:
    table = attribute_table(draft, features, min_leads=int(min_leads), leakage_iv=float(leakage_iv),
                            extra_columns=extra)
    o = table.overall
    rate = "-" if o["rate"] is None else f"{o['rate']:.1%}"
    st.caption(f"{o['leads']:,} mature leads, {o['conversions']:,} converted ({rate}); {o['immature']:,} immature "
               "leads are not counted. WoE = ln(share of converters / share of the others): positive means likelier "
               "than average to convert. An engagement rule reads as 'did it before the scoring point or not'. "
               "Fields the model does not use can be added under Settings.")
    for message in table.warnings:
        st.warning(message)
    summary = pd.DataFrame(summary_rows(table))[["attribute", "iv", "strength", "flags", "points_spread",
                                                 "points_per_double_odds", "kind", "in_model", "leakage"]]
    fig = go.Figure(go.Bar(
        x=summary["iv"], y=summary["attribute"], orientation="h",
        marker_color=["#c0392b" if lk else ("#1f4e9c" if m else "#9aa5b1")
                      for lk, m in zip(summary["leakage"], summary["in_model"])],
        hovertemplate="%{y}: IV %{x:.3f}<extra></extra>"))
    fig.add_vline(x=float(leakage_iv), line=dict(color="#c0392b", dash="dot"), annotation_text="leakage?")
    fig.update_layout(font=FONT, height=max(320, 28 * len(summary)), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), xaxis_title="information value (IV)")
    st.plotly_chart(fig, width="stretch", key="iv_chart")
    st.caption("Blue: scored by the draft; grey: not in the model; red: possible leakage. "
               f"The draft pays about {table.points_per_double_odds or 0:.0f} points per doubling of the odds "
               "(median over its attributes).")
    st.dataframe(summary, hide_index=True, width="stretch", key="iv_table",
                 column_config={"iv": st.column_config.NumberColumn("IV", format="%.3f"),
                                "points_spread": st.column_config.NumberColumn("points spread", format="%.1f"),
                                "points_per_double_odds": st.column_config.NumberColumn(
                                    "points per doubling of odds", format="%.1f"),
                                "in_model": st.column_config.CheckboxColumn("in model")})
    values = pd.DataFrame(flat_rows(table))
    st.dataframe(values[["attribute", "value", "leads", "conversions", "rate", "ci_low", "ci_high", "lift", "woe",
                         "iv", "points", "avg_points", "flag"]],
                 hide_index=True, width="stretch", key="values_table",
                 column_config={"rate": PCT, "ci_low": PCT, "ci_high": PCT,
                                "lift": st.column_config.NumberColumn(format="%.2f"),
                                "woe": st.column_config.NumberColumn("WoE", format="%.2f"),
                                "iv": st.column_config.NumberColumn("IV part", format="%.3f"),
                                "points": st.column_config.NumberColumn("draft points", format="%g"),
                                "avg_points": st.column_config.NumberColumn("avg points given", format="%.1f")})

# ------------------------------------------------------------------ suggested points
with tabs[1]:
    try:
        suggestion = _suggestion(db_key, spec_key, _key(draft), ctx.segment_value, float(share), seed, draft,
                                 features)
    except ValueError as exc:
        st.error(f"No suggestion: {exc}")
        suggestion = None
    if suggestion is not None:
        split = suggestion.split
        (st.info if split.method == "time" else st.warning)(split.description)
        rows = compare_auc({"suggested": suggestion.config, "draft": draft, f"approved ({ctx.approved_ref})":
                            ctx.approved}, features, split)
        c = st.columns(3)
        for col, row in zip(c, rows):
            col.metric(f"{row['model']}: hold-out AUC", "-" if row["holdout_auc"] is None
                       else f"{row['holdout_auc']:.3f}",
                       None if row["train_auc"] is None else f"train {row['train_auc']:.3f}",
                       delta_color="gray", delta_arrow="off")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="auc_table",
                     column_config={"train_auc": st.column_config.NumberColumn("train AUC", format="%.3f"),
                                    "holdout_auc": st.column_config.NumberColumn("hold-out AUC", format="%.3f")})
        for note in suggestion.notes[1:]:
            st.caption(note)
        st.subheader("Points: draft and suggested")
        st.dataframe(pd.DataFrame(suggestion.coefficients), hide_index=True, width="stretch", key="coef_table",
                     column_config={"coefficient": st.column_config.NumberColumn("log-odds", format="%.3f")})
        changes = config_diff(draft, suggestion.config)
        with st.expander(f"What applying it changes in the draft ({len(changes)} changes)"):
            st.dataframe(pd.DataFrame(changes).astype(str), hide_index=True, width="stretch", key="suggest_diff")
        c1, c2 = st.columns(2)
        if c1.button("Apply suggestion to the draft", type="primary", key="apply_suggestion",
                     help="Fills the Calibrate page's controls with the suggested points; nothing is saved."):
            session.start_from(suggestion.config, "suggestion")
            st.session_state["attributes_applied"] = ("The suggested points are now the draft on the Calibrate "
                                                      "page. Nothing is saved until you save it there.")
            st.rerun()
        c2.download_button("Download suggestion YAML", data.yaml_of(suggestion.config),
                           file_name=f"{draft.name}-suggested.yaml", mime="text/yaml", key="download_suggestion")

# ------------------------------------------------------------------ decay
with tabs[2]:
    st.caption("Every decay option with the points refitted for it (a decay that keeps more events changes what a "
               "point per event is worth), judged on the hold-out by AUC and Brier score; also the draft's own "
               "points under each decay. Per-rule decays are replaced by the option.")
    if not any(rule.event is not None for rule in draft.engagement):
        st.info("The draft has no event rules, so decay does not matter.")
    elif st.toggle("Compare decay options (reads every option from DuckDB in one pass)", key="attr_decays"):
        try:
            decay_features = data.features_for(ctx.db, draft, *decay_configs(draft))
        except (SourceError, ConfigError, ValueError) as exc:
            st.error(str(exc))
            st.stop()
        decay_features = data.segment_view(ctx.db, decay_features, ctx.segment_column, ctx.segment_value)
        result = _decays(db_key, spec_cache_key(decay_features.spec), _key(draft), ctx.segment_value,
                         float(share), seed, draft, decay_features)
        st.success(result["reason"])
        decays = pd.DataFrame([{**r, "decay": r["label"]} for r in result["rows"]]).drop(columns=["label"])
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=decays["decay"], y=decays["holdout_auc"], mode="markers",
                                 name="points refitted for the decay",
                                 marker=dict(size=[20 if s else 13 for s in decays["suggested"]],
                                             color=["#1f4e9c" if s else "#9aa5b1" for s in decays["suggested"]])))
        fig.add_trace(go.Scatter(x=decays["decay"], y=decays["draft_points_holdout_auc"], mode="markers",
                                 name="the draft's points", marker=dict(size=11, color="#e07b00", symbol="diamond")))
        values = pd.concat([decays["holdout_auc"], decays["draft_points_holdout_auc"]]).dropna()
        fig.update_layout(font=FONT, height=420, margin=dict(l=10, r=10, t=30, b=10),
                          yaxis=dict(title="hold-out AUC", range=[values.min() - 0.005, values.max() + 0.005]),
                          legend=dict(orientation="h", y=-0.35))
        st.plotly_chart(fig, width="stretch", key="decay_chart")
        st.dataframe(decays, hide_index=True, width="stretch", key="decay_table",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("holdout_auc", "train_auc", "holdout_brier", "draft_points_holdout_auc")})
        if result["suggested"] is not None and not any(r["suggested"] and r["current"] for r in result["rows"]):
            if st.button(f"Apply decay '{decay_label(result['suggested'])}' to the draft", key="apply_decay"):
                session.start_from(with_decay(draft, result["suggested"]), "suggested decay")
                st.session_state["attributes_applied"] = (f"The draft now decays engagement as "
                                                          f"{decay_label(result['suggested'])}.")
                st.rerun()

# ------------------------------------------------------------------ thresholds
with tabs[3]:
    c1, c2, c3 = st.columns(3)
    target = c1.slider("SQL conversion target (%)", 0.0, 60.0,
                       (100 * DEFAULT_SQL_TARGET[0], 100 * DEFAULT_SQL_TARGET[1]), step=0.5, key="attr_sql_target")
    capacity = c2.number_input("Sales capacity (leads a month; 0 = not set)", min_value=0, value=0, step=50,
                               key="attr_capacity")
    capture = c3.slider("Without a capacity, MQL keeps this share of conversions (%)", 50, 100,
                        int(100 * MQL_CAPTURE), key="attr_capture")
    try:
        th = suggest_thresholds(draft, features, sql_target=(target[0] / 100, target[1] / 100),
                                capacity_per_month=float(capacity) or None, mql_capture=capture / 100)
    except ValueError as exc:
        st.error(str(exc))
        th = None
    if th is not None:
        k = st.columns(4)
        k[0].metric("Suggested MQL", f"{th['mql']:g}", f"draft {draft.thresholds.mql:g}", delta_color="gray",
                    delta_arrow="off")
        k[1].metric("Suggested SQL", f"{th['sql']:g}", f"draft {draft.thresholds.sql:g}", delta_color="gray",
                    delta_arrow="off")
        at_sql, at_mql = th["at_sql"] or {}, th["at_mql"] or {}
        k[2].metric("SQL conversion", "-" if at_sql.get("rate") is None else f"{at_sql['rate']:.1%}")
        k[3].metric("Conversions ≥ MQL", "-" if at_mql.get("capture") is None else f"{at_mql['capture']:.0%}")
        for note in th["notes"]:
            st.caption(note)
        curve = pd.DataFrame(th["curve"])
        timed = curve["per_month"].notna().any()
        x = curve["per_month"] if timed else 100 * curve["share"]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=x, y=100 * curve["capture"], name="conversions captured (%)", mode="lines",
                                 line=dict(color="#1f4e9c", width=3), customdata=curve["threshold"],
                                 hovertemplate="threshold %{customdata}: %{y:.0f}% captured<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=100 * curve["rate"], name="conversion rate of those passed (%)",
                                 mode="lines", line=dict(color="#e07b00", width=3), customdata=curve["threshold"],
                                 hovertemplate="threshold %{customdata}: %{y:.1f}% convert<extra></extra>"))
        for label, value in (("MQL", th["mql"]), ("SQL", th["sql"])):
            row = curve[curve["threshold"] == value]
            if not row.empty:
                pos = row["per_month"].iloc[0] if timed else 100 * row["share"].iloc[0]
                fig.add_vline(x=pos, line=dict(color="#444", dash="dot"), annotation_text=f"{label} {value:g}",
                              annotation_position="top" if label == "SQL" else "bottom")
        fig.update_layout(font=FONT, height=440, margin=dict(l=10, r=10, t=40, b=10),
                          xaxis_title="leads passed per month" if timed else "share of leads passed (%)",
                          yaxis_title="%", legend=dict(orientation="h", y=-0.3))
        st.plotly_chart(fig, width="stretch", key="tradeoff_chart")
        st.dataframe(curve, hide_index=True, width="stretch", key="curve_table",
                     column_config={"share": PCT, "capture": PCT, "rate": PCT,
                                    "per_month": st.column_config.NumberColumn("per month", format="%.0f")})
        if (th["mql"], th["sql"]) != (draft.thresholds.mql, draft.thresholds.sql) and th["mql"] < th["sql"]:
            if st.button(f"Apply MQL {th['mql']:g} and SQL {th['sql']:g} to the draft", key="apply_thresholds"):
                session.start_from(with_thresholds(draft, th["mql"], th["sql"]), "suggested thresholds")
                st.session_state["attributes_applied"] = (f"The draft's thresholds are now MQL {th['mql']:g} "
                                                          f"and SQL {th['sql']:g}.")
                st.rerun()

# ------------------------------------------------------------------ calibration
with tabs[4]:
    try:
        split = holdout_split(features, float(share), seed)
        cal = reliability(draft, features, split)
    except ValueError as exc:
        st.error(str(exc))
        cal = None
    if cal is not None and cal["fitted"] is not None:
        (st.caption if split.method == "time" else st.warning)(split.description)
        said = "; ".join(f"a score of {p['score']:g} means about {p['probability']:.0%} convert"
                         for p in cal["probability_at"])
        st.markdown(f"**What a draft score means:** {said}.")
        k = st.columns(3)
        k[0].metric("Brier score (hold-out)", f"{cal['brier_holdout']:.4f}" if cal["brier_holdout"] is not None
                    else "-")
        k[1].metric("Always predicting the base rate", f"{cal['brier_reference']:.4f}"
                    if cal["brier_reference"] is not None else "-")
        k[2].metric("Skill (1 - Brier / base)", f"{cal['brier_skill']:.1%}" if cal["brier_skill"] is not None
                    else "-")
        bands = pd.DataFrame(cal["bands"])
        shown = bands[bands["leads"] > 0]
        cap = draft.caps.total
        lo = cap.min if cap and cap.min is not None else float(shown["mean_score"].min())
        hi = cap.max if cap and cap.max is not None else float(shown["mean_score"].max())
        line = curve_points(cal, lo, hi)
        fig = go.Figure()
        fig.add_trace(go.Scatter(
            x=shown["mean_score"], y=100 * shown["rate"], mode="markers", name="observed (hold-out, 95% interval)",
            marker=dict(size=11, color="#1f4e9c"),
            error_y=dict(type="data", symmetric=False, array=100 * (shown["ci_high"] - shown["rate"]),
                         arrayminus=100 * (shown["rate"] - shown["ci_low"])),
            customdata=shown[["band", "leads"]], hovertemplate="%{customdata[0]}: %{y:.1f}% of %{customdata[1]}"
                                                               "<extra></extra>"))
        fig.add_trace(go.Scatter(x=line["score"], y=[100 * p for p in line["probability"]], mode="lines",
                                 name="fitted on the training period", line=dict(color="#e07b00", width=3)))
        fig.update_layout(font=FONT, height=440, xaxis_title="draft score", yaxis_title="conversion (%)",
                          margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
        st.plotly_chart(fig, width="stretch", key="reliability_chart")
        st.dataframe(bands, hide_index=True, width="stretch", key="reliability_table",
                     column_config={"rate": PCT, "ci_low": PCT, "ci_high": PCT, "predicted": PCT,
                                    "mean_score": st.column_config.NumberColumn(format="%.1f")})
    elif cal is not None:
        st.info("The hold-out has no conversions (or only conversions): nothing to calibrate.")
