"""The draft model's controls: each part of the draft as widgets that write back into it.

The draft lives in ``ui.session`` (one state per browser session). Every control is
seeded from the draft when its widget is (re)created and writes its value back into the
draft data on every run, so the draft survives page changes and what is scored is
exactly what the controls show. Keys carry the draft's generation: a re-seed (load,
reset, another model or database) starts every control afresh from the new draft.

Slider ranges come from the config the generation was seeded from, so a slider keeps its
identity (and its value) while the draft changes. Data editors start from a snapshot of
the draft taken when the editor is created; their edits apply to that snapshot.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from scoring.analysis.glossary import HELP
from scoring.model.config import normalise_value
from scoring.model.features import Features

from . import rerun_scope, session
from .text import plain

DECAY_KINDS = {"none": "No decay", "exponential": "Exponential (half-life)",
               "linear": "Linear (lifespan)", "window": "Window (last N days)"}
DECAY_PARAM = {"exponential": ("half_life_days", "Half-life (days)"),
               "linear": ("lifespan_days", "Lifespan (days)"), "window": ("days", "Window (days)")}


def _whole(*values: float | None) -> bool:
    return all(v is None or float(v).is_integer() for v in values)


def _number(value: float, whole: bool) -> float | int:
    return int(value) if whole else float(value)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _edited(snapshot: pd.DataFrame, state: Any) -> pd.DataFrame:
    """A data editor's snapshot with its pending edits (``DataEditorState``) applied, as the editor returns it."""
    df = snapshot.copy()
    for row, changes in (state.get("edited_rows") or {}).items():
        for column, value in changes.items():
            df.iloc[int(row), df.columns.get_loc(column)] = math.nan if value is None else value
    deleted = sorted(int(r) for r in state.get("deleted_rows") or [])
    if deleted:
        df = df.drop(df.index[deleted])
    added = state.get("added_rows") or []
    if added:
        df = pd.concat([df, pd.DataFrame(added, columns=df.columns)], ignore_index=True)
    return df.reset_index(drop=True)


def _changed(key: str, apply, args: tuple, results_only: bool = False) -> None:
    """A control's on_change callback: write its new value into the draft before the page runs.

    So the sidebar and the page see the changed draft from the start of the rerun. A control whose
    change shows nowhere but in the results (``results_only``) reruns only them (``ui.rerun_scope``).
    """
    data = session.state().data
    if data is None or key not in st.session_state:
        return
    value = st.session_state[key]
    snapshot = st.session_state.get(f"snapshot:{key}")
    if snapshot is not None:
        value = _edited(snapshot, value)
    apply(data, value, *args)
    if results_only:
        rerun_scope.results_only()


def _bound(key: str, apply, *args, results_only: bool = False) -> dict:
    """Widget arguments that write the widget's changes into the draft (see :func:`_changed`)."""
    return {"key": key, "on_change": _changed, "args": (key, apply, args, results_only)}


def threshold_range(data: dict) -> tuple[float, float]:
    """Slider range of the thresholds: the total cap, else 0-100, widened to fit the values."""
    total = (data.get("caps") or {}).get("total") or {}
    lo = total.get("min", 0.0) if total.get("min") is not None else 0.0
    hi = total.get("max", 100.0) if total.get("max") is not None else 100.0
    th = data["thresholds"]
    return float(min(lo, th["mql"])), float(max(hi, th["sql"]))


def _set_thresholds(data: dict, value: tuple) -> None:
    data["thresholds"] = {"mql": float(value[0]), "sql": float(value[1])}


def threshold_controls(data: dict, seeded: dict) -> None:
    """MQL and SQL as one two-handled slider: they cannot cross."""
    lo, hi = threshold_range(seeded)
    th = data["thresholds"]
    whole = _whole(lo, hi, seeded["thresholds"]["mql"], seeded["thresholds"]["sql"])
    key = session.seed(session.control_key("thresholds"),
                       (_number(th["mql"], whole), _number(th["sql"], whole)))
    value = st.slider("MQL and SQL thresholds", _number(lo, whole), _number(hi, whole),
                      step=1 if whole else 0.5, format="%d" if whole else "%.1f",
                      **_bound(key, _set_thresholds, results_only=True),
                      help="Left handle: MQL, the score at or above which a lead is marketing-qualified. "
                           "Right handle: SQL, the score at or above which sales takes the lead.")
    _set_thresholds(data, value)
    st.caption("A lead is an MQL at the left handle's score or more, an SQL (sales-ready) at the right one's or "
               "more.")  # no numbers: the handles show them, and a move reruns the results, not this text


def _set_account_thresholds(data: dict, value: tuple) -> None:
    data["accounts"] = {**data["accounts"], "thresholds": {"mql": float(value[0]), "sql": float(value[1])}}


def _set_account_method(data: dict, value: str) -> None:
    data["accounts"] = {**data["accounts"], "method": value}


ACCOUNT_METHODS = ["max", "sum", "top_k_mean"]


def account_controls(data: dict, seeded: dict) -> None:
    """MQA and SQA (one two-handled slider) and how an account's score comes from its leads'."""
    acc = data["accounts"]
    th = acc.get("thresholds") or {"mql": 40.0, "sql": 60.0}
    lo, hi = threshold_range({**seeded, "thresholds": th})
    if acc.get("method", "max") == "sum":
        hi = max(hi, float(acc.get("cap") or 0.0), 2 * hi)  # a sum passes the lead cap
    whole = _whole(lo, hi, th["mql"], th["sql"])
    key = session.seed(session.control_key("account_thresholds"),
                       (_number(th["mql"], whole), _number(th["sql"], whole)))
    value = st.slider("MQA and SQA thresholds (accounts)", _number(lo, whole), _number(hi, whole),
                      step=1 if whole else 0.5, format="%d" if whole else "%.1f",
                      **_bound(key, _set_account_thresholds, results_only=True),
                      help="Left handle: MQA, the account score at or above which an account is marketing-qualified. "
                           "Right handle: SQA, sales-qualified.")
    _set_account_thresholds(data, value)
    key = session.seed(session.control_key("account_method"), acc.get("method", "max"))
    method = st.selectbox("Account score", ACCOUNT_METHODS, **_bound(key, _set_account_method),
                          help="max: the best lead's score; sum: the leads' scores added up (capped by accounts.cap); "
                               "top_k_mean: the mean of the k best leads' scores.")
    _set_account_method(data, method)


def _set_points(data: dict, value: float, i: int) -> None:
    data["engagement"][i]["points"] = float(value)


def _set_cap(data: dict, value: float | None, i: int) -> None:
    if value:
        data["engagement"][i]["cap"] = float(value)
    else:
        data["engagement"][i].pop("cap", None)


def engagement_controls(data: dict, seeded: dict) -> None:
    """A points slider per engagement rule (negative points allowed), its cap in the label; one element a rule,
    so a slider move redraws little (the caps are set under "Decay, caps, bands and evaluation")."""
    for i, rule in enumerate(data.get("engagement", [])):
        first = seeded["engagement"][i]
        lo, hi = min(-50.0, first["points"]), max(50.0, first["points"])
        whole = _whole(lo, hi, first["points"])
        key = session.seed(session.control_key(f"eng:{i}:points"), _number(rule["points"], whole))
        cap = f" (cap {rule['cap']:g})" if rule.get("cap") else ""
        pts = st.slider(f"{plain(_rule_label(rule))}: points{cap}", _number(lo, whole), _number(hi, whole),
                        step=1 if whole else 0.5, format="%d" if whole else "%.1f",
                        **_bound(key, _set_points, i, results_only=True),
                        help="Points per event (after decay) or per unit of the activity column; the cap is the most "
                             "the rule can add (or take away).")
        _set_points(data, pts, i)


def engagement_cap_controls(data: dict, seeded: dict) -> None:
    """The cap of each engagement rule (0 = no cap)."""
    rules = data.get("engagement", [])
    columns = st.columns(2)
    for i, rule in enumerate(rules):
        cap_whole = _whole(seeded["engagement"][i].get("cap"))
        key = session.seed(session.control_key(f"eng:{i}:cap"), _number(rule.get("cap") or 0, cap_whole))
        with columns[i % 2]:
            cap = st.number_input(f"{plain(_rule_label(rule))}: cap", min_value=0 if cap_whole else 0.0,
                                  step=1 if cap_whole else 0.5, format="%d" if cap_whole else "%.1f",
                                  **_bound(key, _set_cap, i),
                                  help="The most this rule can add (or take away); 0 = no cap.")
        _set_cap(data, cap, i)


def _rule_label(rule: dict) -> str:
    if rule.get("name"):
        return str(rule["name"])
    if rule.get("column"):
        return str(rule["column"])
    events = rule.get("event")
    return "+".join(events) if isinstance(events, list) else str(events)


def _category_table(rule: dict, features: Features | None) -> pd.DataFrame:
    """One row per value seen in the data or named in the config, with its lead count."""
    counts: dict[str, int] = {}
    column = rule["column"]
    if features is not None and column in features.categorical:
        cat = features.categorical[column]
        for value, count in zip(cat.categories, cat.counts()):
            counts[str(value)] = counts.get(str(value), 0) + int(count)
    configured = {normalise_value(k): (k, v) for k, v in (rule.get("points") or {}).items()}
    rows = []
    seen = set()
    for value, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        key = normalise_value(value)
        if key in seen:
            continue
        seen.add(key)
        name, pts = configured.get(key, (value, None))
        rows.append({"value": name, "leads": count, "points": math.nan if pts is None else float(pts)})
    for key, (value, pts) in configured.items():
        if key not in seen:
            rows.append({"value": value, "leads": 0, "points": float(pts)})
    return pd.DataFrame(rows, columns=["value", "leads", "points"]).astype({"value": str, "leads": int,
                                                                            "points": float})


def _editor(name: str, build, apply, *args, **kwargs) -> None:
    """A data editor over a snapshot of the draft taken when the editor is (re)created."""
    key = session.control_key(name)
    snap = f"snapshot:{key}"
    if key not in st.session_state or snap not in st.session_state:
        st.session_state[snap] = build()
    table = st.data_editor(st.session_state[snap], hide_index=True, width="stretch", **_bound(key, apply, *args),
                           **kwargs)
    apply(session.state().data, table, *args)


def _set_category_points(data: dict, table: pd.DataFrame, i: int) -> None:
    data["fit"][i]["points"] = {str(v): float(p) for v, p in zip(table["value"], table["points"]) if not _blank(p)}


def _set_bins(data: dict, table: pd.DataFrame, i: int) -> None:
    data["fit"][i]["bins"] = [{k: float(v) for k, v in row.items() if not _blank(v)}
                              for row in table.to_dict("records")]


def _set_fit_part(data: dict, value: float, i: int, part: str) -> None:
    data["fit"][i][part] = float(value)


def fit_controls(data: dict, features: Features | None) -> None:
    """An editable points table per categorical rule (blank = 'other'); bins per numeric rule."""
    for i, rule in enumerate(data.get("fit", [])):
        st.markdown(f"**{plain(rule['column'])}**")
        if rule.get("type", "categorical") == "categorical":
            _editor(f"fit:{i}:points", lambda r=rule: _category_table(r, features), _set_category_points, i,
                    disabled=["value", "leads"], column_order=["value", "points", "leads"],
                    placeholder="other",  # a blank cell takes the rule's 'other values' points
                    column_config={
                        "value": st.column_config.TextColumn("value", width="medium", help=HELP["category value"]),
                        "leads": st.column_config.NumberColumn("leads", format="%d", width="small",
                                                               help=HELP["value leads"]),
                        "points": st.column_config.NumberColumn("points", step=1, format="%g", width="small",
                                                                help=HELP["value points"])})
        else:
            _editor(f"fit:{i}:bins",
                    lambda r=rule: pd.DataFrame(r["bins"], columns=["min", "max", "points"]).astype(float),
                    _set_bins, i, num_rows="dynamic", placeholder="open",
                    column_config={"min": st.column_config.NumberColumn("from", format="%g", help=HELP["bin min"]),
                                   "max": st.column_config.NumberColumn("to (not incl.)", format="%g",
                                                                        help=HELP["bin max"]),
                                   "points": st.column_config.NumberColumn("points", format="%g")})
        c1, c2 = st.columns(2)
        for col, part, label in ((c1, "other", "other values"), (c2, "missing", "missing")):
            value = float(rule.get(part, 0.0))
            whole = value.is_integer()
            key = session.seed(session.control_key(f"fit:{i}:{part}"), _number(value, whole))
            with col:
                got = st.number_input(label, step=1 if whole else 0.5, format="%d" if whole else "%.1f",
                                      help=HELP[f"fit {part}"],
                                      **_bound(key, _set_fit_part, i, part, results_only=True))
            _set_fit_part(data, got, i, part)


def _set_decay_kind(data: dict, kind: str) -> None:
    if kind == "none":
        data["decay"] = {"kind": "none"}
        return
    decay = data.get("decay") or {}
    field = DECAY_PARAM[kind][0]
    if decay.get("kind") != kind:
        data["decay"] = {"kind": kind, field: 30.0}


def _set_decay_days(data: dict, days: int, kind: str) -> None:
    data["decay"] = {"kind": kind, DECAY_PARAM[kind][0]: float(days)}


def decay_controls(data: dict) -> None:
    """The model's default decay: kind and its number of days."""
    decay = data.get("decay") or {"kind": "none"}
    key = session.seed(session.control_key("decay:kind"), decay.get("kind", "none"))
    kind = st.selectbox("Decay of engagement", list(DECAY_KINDS), format_func=DECAY_KINDS.get, help=HELP["decay"],
                        **_bound(key, _set_decay_kind))
    _set_decay_kind(data, kind)
    if kind == "none":
        return
    field, label = DECAY_PARAM[kind]
    key = session.seed(session.control_key(f"decay:days:{kind}"), int(round(data["decay"].get(field, 30.0))))
    days = st.slider(label, 1, 365, step=1, format="%d", **_bound(key, _set_decay_days, kind, results_only=True))
    _set_decay_days(data, days, kind)


def _set_caps(data: dict, table: pd.DataFrame) -> None:
    caps = {}
    for row in table.to_dict("records"):
        bounds = {k: float(row[k]) for k in ("min", "max") if not _blank(row[k])}
        if bounds:
            caps[row["part"]] = bounds
    data["caps"] = caps


def caps_controls(data: dict) -> None:
    """Bounds of fit, engagement and total as a small table (blank = no bound)."""
    def build() -> pd.DataFrame:
        caps = data.get("caps") or {}
        rows = [{"part": part, "min": (caps.get(part) or {}).get("min"), "max": (caps.get(part) or {}).get("max")}
                for part in ("fit", "engagement", "total")]
        return pd.DataFrame(rows, columns=["part", "min", "max"]).astype({"min": float, "max": float})

    _editor("caps", build, _set_caps, disabled=["part"], placeholder="no bound",
            column_config={"part": st.column_config.TextColumn("part", help=HELP["caps"]),
                           "min": st.column_config.NumberColumn("min", format="%g"),
                           "max": st.column_config.NumberColumn("max", format="%g")})


def _set_evaluation(data: dict, value: int, field: str) -> None:
    data.setdefault("evaluation", {})[field] = float(value)


def evaluation_controls(data: dict) -> None:
    """Scoring point and outcome window (changing them re-reads the data)."""
    ev = data.setdefault("evaluation", {})
    c1, c2 = st.columns(2)
    for col, field, label, default, low in ((c1, "scoring_point_days", "Scoring point (days after creation)", 7, 0),
                                            (c2, "outcome_window_days", "Outcome window (days)", 90, 1)):
        key = session.seed(session.control_key(f"eval:{field}"), int(round(ev.get(field, default))))
        with col:
            value = st.number_input(label, min_value=low, max_value=3650, step=1,
                                    help=HELP["scoring point" if field == "scoring_point_days" else "outcome window"],
                                    **_bound(key, _set_evaluation, field))
        _set_evaluation(data, value, field)


def bands_text(bands: Any) -> str:
    """The band cut points as the text box shows them (kept as typed while it does not parse)."""
    return bands if isinstance(bands, str) else ", ".join(f"{b:g}" for b in bands)


def parse_bands(text: str) -> list[float] | str:
    """Cut points from '20, 40; 60', or the text itself when a part is not a number."""
    try:
        return [float(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        return text


def _set_bands(data: dict, text: str) -> None:
    data["bands"] = parse_bands(text)


def bands_control(data: dict) -> None:
    """Band cut points as text."""
    key = session.seed(session.control_key("bands"), bands_text(data.get("bands", [])))
    text = st.text_input("Band cut points", help=HELP["bands"], **_bound(key, _set_bands))
    _set_bands(data, text)


def _section(label: str, name: str, expanded: bool):
    """A collapsible group of controls that runs only while it is open, and stays open or closed
    across reruns and page changes.

    Closed, its widgets are neither built nor sent on a slider move; opened, they are seeded
    from the draft again, so nothing is lost while it was closed.
    """
    kept = st.session_state.setdefault(session.KEPT, {})
    key = session.seed(f"controls_section:{name}", kept.get(f"controls_section:{name}", expanded))
    box = st.expander(label, key=key, on_change="rerun")
    kept[key] = box.open is not False
    return box


def draft_controls(data: dict, seeded: dict, features: Features | None) -> None:
    """Render the controls of the open sections; each writes its value into ``data`` (the session's draft)."""
    with (box := _section("Thresholds", "thresholds", True)):
        if box.open is not False:
            threshold_controls(data, seeded)
            if data.get("accounts"):
                account_controls(data, seeded)
    with (box := _section(f"Engagement rules ({len(data.get('engagement', []))})", "engagement", True)):
        if box.open is not False:
            engagement_controls(data, seeded)
    with (box := _section(f"Fit rules ({len(data.get('fit', []))})", "fit", False)):
        if box.open is not False:
            fit_controls(data, features)
    with (box := _section("Decay, caps, bands and evaluation", "more", False)):
        if box.open is not False:
            decay_controls(data)
            caps_controls(data)
            if data.get("engagement"):
                st.markdown("**Engagement rule caps**")
                engagement_cap_controls(data, seeded)
            bands_control(data)
            evaluation_controls(data)
    if data.get("segments"):
        st.caption(f"This model has {len(data['segments'])} segment(s) with their own rules; "
                   "edit those in the YAML config.")
