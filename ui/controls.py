"""The draft model's controls: each part of the config as widgets, read back as a config.

Widgets are keyed by a version number that changes when a config is loaded or reset, so
a fresh set of widgets starts from that config's values (no stale widget state). Every
rerun rebuilds the draft from the widgets' current values and validates it with the same
rules as a YAML file; an invalid draft shows its problems and is never saved.
"""

from __future__ import annotations

import copy
import math

import pandas as pd
import streamlit as st

from scoring.config import ConfigError, ScoringConfig, config_from_dict, config_to_dict
from scoring.features import Features
from scoring.config import normalise_value

DECAY_KINDS = {"none": "No decay", "exponential": "Exponential (half-life)",
               "linear": "Linear (lifespan)", "window": "Window (last N days)"}
DECAY_PARAM = {"exponential": ("half_life_days", "Half-life (days)"),
               "linear": ("lifespan_days", "Lifespan (days)"), "window": ("days", "Window (days)")}


def _k(name: str) -> str:
    return f"v{st.session_state.get('controls_version', 0)}:{name}"


def threshold_range(config: ScoringConfig) -> tuple[float, float]:
    """Slider range of the thresholds: the total cap, else 0-100, widened to fit the values."""
    cap = config.caps.total
    lo = cap.min if cap and cap.min is not None else 0.0
    hi = cap.max if cap and cap.max is not None else 100.0
    lo = min(lo, config.thresholds.mql)
    hi = max(hi, config.thresholds.sql)
    return float(lo), float(hi)


def threshold_controls(data: dict, config: ScoringConfig) -> None:
    """MQL and SQL sliders."""
    lo, hi = threshold_range(config)
    mql = st.slider("MQL threshold", lo, hi, float(config.thresholds.mql), step=1.0, key=_k("mql"),
                    help="Score at or above which a lead is marketing-qualified.")
    sql = st.slider("SQL (sales-ready) threshold", lo, hi, float(config.thresholds.sql), step=1.0,
                    key=_k("sql"), help="Score at or above which sales takes the lead; above MQL.")
    data["thresholds"] = {"mql": mql, "sql": sql}


def engagement_controls(data: dict, config: ScoringConfig) -> None:
    """A points slider and a cap per engagement rule (negative points allowed)."""
    rules = copy.deepcopy(data.get("engagement", []))
    for i, rule in enumerate(config.engagement):
        label = rule.label
        lo, hi = min(-50.0, rule.points), max(50.0, rule.points)
        c1, c2 = st.columns([3, 1])
        with c1:
            pts = st.slider(f"{label}: points", float(lo), float(hi), float(rule.points), step=0.5,
                            key=_k(f"eng:{i}:points"))
        with c2:
            cap = st.number_input("cap", min_value=0.0, value=float(rule.cap or 0.0), step=1.0,
                                  key=_k(f"eng:{i}:cap"), help="Most this rule can add or take; 0 = no cap.")
        rules[i]["points"] = pts
        if cap > 0:
            rules[i]["cap"] = cap
        else:
            rules[i].pop("cap", None)
    data["engagement"] = rules


def _category_table(rule, features: Features | None) -> pd.DataFrame:
    """One row per value seen in the data or named in the config, with its lead count."""
    counts: dict[str, int] = {}
    if features is not None and rule.column in features.categorical:
        cat = features.categorical[rule.column]
        for value, count in zip(cat.categories, cat.counts()):
            counts[str(value)] = counts.get(str(value), 0) + int(count)
    configured = {normalise_value(k): (k, v) for k, v in rule.points.items()}
    rows = []
    seen = set()
    for value, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        key = normalise_value(value)
        if key in seen:
            continue
        seen.add(key)
        pts = configured.get(key, (value, None))[1]
        rows.append({"value": configured.get(key, (value, None))[0], "leads": count, "points": pts})
    for key, (value, pts) in configured.items():
        if key not in seen:
            rows.append({"value": value, "leads": 0, "points": pts})
    return pd.DataFrame(rows, columns=["value", "leads", "points"])


def fit_controls(data: dict, config: ScoringConfig, features: Features | None) -> None:
    """An editable points table per categorical rule (blank = 'other'); bins per numeric rule."""
    rules = copy.deepcopy(data.get("fit", []))
    for i, rule in enumerate(config.fit):
        st.markdown(f"**{rule.column}**")
        if rule.type == "categorical":
            table = st.data_editor(
                _category_table(rule, features), key=_k(f"fit:{i}:points"), hide_index=True,
                width="stretch", disabled=["value", "leads"],
                column_config={"points": st.column_config.NumberColumn("points", step=1.0,
                                                                       help="Blank: the 'other' points")},
            )
            points = {}
            for value, pts in zip(table["value"], table["points"]):
                if pts is not None and not (isinstance(pts, float) and math.isnan(pts)):
                    points[str(value)] = float(pts)
            rules[i]["points"] = points
        else:
            bins = pd.DataFrame([b.model_dump() for b in rule.bins], columns=["min", "max", "points"])
            table = st.data_editor(bins, key=_k(f"fit:{i}:bins"), hide_index=True, width="stretch",
                                   num_rows="dynamic")
            rules[i]["bins"] = [
                {k: float(v) for k, v in row.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
                for row in table.to_dict("records")
            ]
        c1, c2 = st.columns(2)
        with c1:
            rules[i]["other"] = st.number_input("other values", value=float(rule.other), step=1.0,
                                                key=_k(f"fit:{i}:other"))
        with c2:
            rules[i]["missing"] = st.number_input("missing", value=float(rule.missing), step=1.0,
                                                  key=_k(f"fit:{i}:missing"))
    data["fit"] = rules


def decay_controls(data: dict, config: ScoringConfig) -> None:
    """The model's default decay: kind and its number of days."""
    kinds = list(DECAY_KINDS)
    kind = st.selectbox("Decay of engagement", kinds, index=kinds.index(config.decay.kind),
                        format_func=DECAY_KINDS.get, key=_k("decay:kind"))
    if kind == "none":
        data["decay"] = {"kind": "none"}
        return
    field, label = DECAY_PARAM[kind]
    current = getattr(config.decay, field, 30.0) if config.decay.kind == kind else 30.0
    days = st.slider(label, 1.0, 365.0, float(current), step=1.0, key=_k("decay:days"))
    data["decay"] = {"kind": kind, field: days}


def caps_controls(data: dict, config: ScoringConfig) -> None:
    """Bounds of fit, engagement and total as a small table (blank = no bound)."""
    rows = []
    for part in ("fit", "engagement", "total"):
        cap = getattr(config.caps, part)
        rows.append({"part": part, "min": None if cap is None else cap.min,
                     "max": None if cap is None else cap.max})
    table = st.data_editor(pd.DataFrame(rows, columns=["part", "min", "max"]).astype({"min": float, "max": float}),
                           key=_k("caps"), hide_index=True, disabled=["part"], width="stretch")
    caps = {}
    for row in table.to_dict("records"):
        bounds = {k: float(row[k]) for k in ("min", "max") if row[k] is not None and not math.isnan(row[k])}
        if bounds:
            caps[row["part"]] = bounds
    data["caps"] = caps


def evaluation_controls(data: dict, config: ScoringConfig) -> None:
    """Scoring point and outcome window (changing them re-reads the data)."""
    c1, c2 = st.columns(2)
    with c1:
        sp = st.number_input("Scoring point (days after creation)", min_value=0.0, max_value=3650.0,
                             value=float(config.evaluation.scoring_point_days), step=1.0, key=_k("eval:sp"))
    with c2:
        win = st.number_input("Outcome window (days)", min_value=1.0, max_value=3650.0,
                              value=float(config.evaluation.outcome_window_days), step=1.0, key=_k("eval:win"))
    data["evaluation"] = {"scoring_point_days": sp, "outcome_window_days": win}


def bands_control(data: dict, config: ScoringConfig) -> None:
    """Band cut points as text."""
    text = st.text_input("Band cut points", value=", ".join(f"{b:g}" for b in config.bands), key=_k("bands"))
    try:
        data["bands"] = [float(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        data["bands"] = text  # validation names the problem


def draft_from_controls(base: ScoringConfig, features: Features | None) -> tuple[ScoringConfig | None, list[str]]:
    """Render every control; return the validated draft (or None) and its problems."""
    data = config_to_dict(base)
    data.setdefault("thresholds", {})
    with st.expander("Thresholds", expanded=True):
        threshold_controls(data, base)
    with st.expander(f"Engagement rules ({len(base.engagement)})", expanded=True):
        engagement_controls(data, base)
    with st.expander(f"Fit rules ({len(base.fit)})", expanded=False):
        fit_controls(data, base, features)
    with st.expander("Decay, caps, bands and evaluation", expanded=False):
        decay_controls(data, base)
        caps_controls(data, base)
        bands_control(data, base)
        evaluation_controls(data, base)
    if base.segments:
        st.caption(f"This model has {len(base.segments)} segment(s) with their own rules; "
                   "edit those in the YAML config.")
    try:
        return config_from_dict(data, "draft"), []
    except ConfigError as exc:
        return None, exc.problems
