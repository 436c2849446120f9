"""The Import page's steps: file roles, the column mapping, the report, the starter config.

Widgets only: reading, profiling, proposing, checking and importing are ``scoring.imports.importer``.
Widget keys carry a signature of the proposal (``sig``), so a re-read starts fresh widgets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from scoring.imports.importer import (
    Inspection,
    column_rows,
    drop_unset,
    format_types,
    lead_choices,
    outcome_sentence,
    parse_types,
    save_starter,
)
from scoring.imports.mapping import ROLES, won_lost_values
from scoring.model.config import parse_config
from scoring.registry.store import ConfigStore, StoreError

from . import session
from .text import plain

NONE = "(none)"
ROLE_HELP = {"leads": "one row per lead", "events": "one row per event: lead id, type, time",
             "attributes": "joined onto the leads on a key (e.g. companies by name)",
             "outcome": "names some leads with their outcome (e.g. deals by contact id)", "ignore": "not imported"}


def _pick(label: str, key: str, current: str | None, options: list[str], optional: bool = True,
          **kw) -> str | None:
    opts = ([NONE] if optional else []) + options
    value = st.selectbox(label, opts, index=opts.index(current) if current in opts else 0, key=key, **kw)
    return None if value == NONE else value


def file_roles(ins: Inspection, data: dict, sig: str) -> tuple[dict, dict]:
    """Each file's preview, columns and role; returns the roles and forced types asked for."""
    entries = {e["file"]: e for e in data["files"]}
    new_roles, new_types = {}, {}
    for key, profile in ins.profiles.items():
        entry = entries[key]
        with st.expander(f"{plain(profile.name)}: {profile.rows:,} rows, {len(profile.columns)} columns, "
                         f"proposed as **{entry['role']}**", expanded=entry["role"] == "leads"):
            role = st.selectbox("What this file is", ROLES, index=ROLES.index(entry["role"]), key=f"role_{key}",
                                format_func=lambda r: f"{r}: {ROLE_HELP[r]}")
            if role != entry["role"]:
                new_roles[key] = role
            st.dataframe(pd.DataFrame(profile.preview), hide_index=True, width="stretch", key=f"preview_{key}")
            st.dataframe(pd.DataFrame(column_rows(profile)), hide_index=True, width="stretch",
                         key=f"columns_{key}", column_config={"filled": st.column_config.NumberColumn(format="percent")})
            forced = st.text_input("Force types (COLUMN=text|boolean|integer|number|time, comma-separated)",
                                   value=format_types(entry.get("types", {})), key=f"types_{key}_{sig}")
            new_types.update(parse_types(forced))
    for note in ins.notes:
        st.caption(plain(note))
    for leak in ins.leaks:
        st.warning(plain(f"Left out as post-outcome (possible leakage): {leak['message']}."))
    if ins.reasons:
        with st.expander("Why each file and column got its role"):
            for reason in ins.reasons:
                st.caption(plain(reason))
            for c in ins.columns:
                st.caption(plain(f"{c.column}: {c.role or 'not a rule'} ({c.why})"))
    return new_roles, new_types


def _outcome(leads: dict, choices: list, refs: list[str], kind_of: dict, sig: str) -> dict:
    """The outcome column (yes/no or stage, with its won and lost stages) and conversion time."""
    proposed = leads.get("outcome") or {}
    column = _pick("Outcome: yes/no or stage column", f"map_outcome_{sig}", proposed.get("column"),
                   [r for r in refs if kind_of[r] in ("boolean", "text", "integer")])
    outcome = {"column": column}
    col = next((c for r, c in choices if r == column), None)
    if col is not None and col.kind == "text":
        values = [str(v) for v, _ in col.top]
        won, lost = won_lost_values(col)
        same = proposed.get("column") == column
        outcome["won"] = st.multiselect("Stages meaning won", values, default=[v for v in (
            proposed.get("won") if same else won) or [] if v in values], key=f"map_won_{column}_{sig}")
        outcome["lost"] = st.multiselect("Stages meaning lost (others are open: immature, never lost)", values,
                                         default=[v for v in (proposed.get("lost") if same else lost) or []
                                                  if v in values], key=f"map_lost_{column}_{sig}")
    outcome["date"] = _pick("Conversion time", f"map_conv_date_{sig}", proposed.get("date"),
                            [r for r in refs if kind_of[r] == "time"])
    return {k: v for k, v in outcome.items() if v}


def mapping_editor(ins: Inspection, data: dict, sig: str) -> None:
    """Edit ``data`` (the proposed mapping) in place: lead columns, outcome, events, attributes."""
    leads = next(e for e in data["files"] if e["role"] == "leads")
    choices = lead_choices(ins, data)
    refs = [r for r, _ in choices]
    kind_of = {r: c.kind for r, c in choices}
    lp = ins.profiles[leads["file"]]
    c1, c2, c3 = st.columns(3)
    with c1:
        leads["id"] = _pick("Lead id (unique per row)", f"map_id_{sig}", leads.get("id"),
                            [c.original for c in lp.columns])
        leads["created_at"] = _pick("Created time", f"map_created_{sig}", leads.get("created_at"),
                                    [r for r in refs if kind_of[r] == "time"],
                                    help="None: the data has no creation times (no point-in-time scoring).")
        leads["deal_value"] = _pick("Deal value", f"map_deal_{sig}", leads.get("deal_value"),
                                    [r for r in refs if kind_of[r] in ("integer", "number")])
        leads["segment"] = _pick("Segment (filter in the app)", f"map_segment_{sig}", leads.get("segment"), refs)
        leads["account"] = _pick("Account (company name or id)", f"map_account_{sig}", leads.get("account"),
                                 [r for r in refs if kind_of[r] in ("text", "integer", "number")],
                                 help="Several leads of one company: the account view scores the company.")
    outcome_file = next((e for e in data["files"] if e["role"] == "outcome"), None)
    with c2:
        if outcome_file is None:
            leads["outcome"] = _outcome(leads, choices, refs, kind_of, sig)
        else:  # another file names the leads with their outcome (edited below)
            leads.pop("outcome", None)
            st.caption(f"Outcome: from {ins.profiles[outcome_file['file']].name} (below); a lead it does not name "
                       "has not converted.")
    with c3:
        leads["fit"] = st.multiselect("Fit attributes", refs, default=[r for r in leads.get("fit", []) if r in refs],
                                      key=f"map_fit_{sig}")
        leads["activity"] = st.multiselect(
            "Activity counts", [r for r in refs if kind_of[r] in ("integer", "number", "boolean")],
            default=[r for r in leads.get("activity", []) if r in refs], key=f"map_activity_{sig}")
    for entry in data["files"]:
        profile = ins.profiles[entry["file"]]
        names = [c.original for c in profile.columns]
        f = entry["file"]
        if entry["role"] == "events":
            st.markdown(f"**{plain(profile.name)}** (events)")
            e1, e2, e3 = st.columns(3)
            with e1:
                entry["lead_id"] = _pick("Lead id", f"ev_id_{f}_{sig}", entry.get("lead_id"), names, False)
            with e2:
                if entry.get("type_value"):
                    entry["type_value"] = st.text_input("Event type (every row)", entry["type_value"],
                                                        key=f"ev_tv_{f}_{sig}")
                else:
                    entry["type"] = _pick("Event type", f"ev_type_{f}_{sig}", entry.get("type"), names, False)
            with e3:
                entry["time"] = _pick("Time", f"ev_time_{f}_{sig}", entry.get("time"), names, False)
        elif entry["role"] == "outcome":
            st.markdown(f"**{plain(profile.name)}** (the outcome of the leads it names)")
            o1, o2, o3 = st.columns(3)
            o = dict(entry.get("outcome") or {})
            with o1:
                entry["lead_id"] = _pick("Its lead id column", f"oc_id_{f}_{sig}", entry.get("lead_id"), names, False)
            with o2:
                st.caption(plain(f"Stage: {o.get('column') or 'none'}; won: {', '.join(map(str, o.get('won') or [])) or '-'}"
                                 f"; lost: {', '.join(map(str, o.get('lost') or [])) or '-'} (others are open: never lost)"))
            with o3:
                o["date"] = _pick("Conversion time", f"oc_date_{f}_{sig}", o.get("date"),
                                  [c.original for c in profile.columns if c.kind == "time"])
            entry["outcome"] = {k: v for k, v in o.items() if v}
        elif entry["role"] == "attributes":
            st.markdown(f"**{plain(profile.name)}** (attributes, joined onto the leads)")
            a1, a2 = st.columns(2)
            with a1:
                entry["key"] = _pick("Key in this file", f"at_key_{f}_{sig}", entry.get("key"), names, False)
            with a2:
                entry["joins"] = _pick(f"Matches this column of {plain(lp.name)}", f"at_joins_{f}_{sig}",
                                       entry.get("joins"), [c.original for c in lp.columns], False)
    drop_unset(leads)


def import_report(done: dict) -> None:
    """What was imported: tables, outcome, notes, findings, column names."""
    report = done["report"]
    st.success(f"Imported into {plain(done['db'])}: " + ", ".join(f"{plain(t['table'])} ({t['rows']:,} rows)"
                                                            for t in report["tables"]))
    if not report["point_in_time"]:
        st.info("This data has no creation times, so leads are not scored at a point in time: every recorded "
                "activity counts, and open outcomes are left out as immature.")
    st.markdown(f"**Outcome**: {plain(outcome_sentence(report['outcome']))}.")
    if report["outcome"].get("stages"):
        st.dataframe(pd.DataFrame(report["outcome"]["stages"]), hide_index=True, key="import_stages")
    for note in report["notes"]:
        st.caption(plain(note))
    if report["findings"]:
        st.markdown("**Findings** (reported, not fatal)")
        st.dataframe(pd.DataFrame(report["findings"]), hide_index=True, width="stretch", key="import_findings")
    with st.expander("Columns: original name -> clean name and type"):
        st.dataframe(pd.DataFrame(report["columns"]), hide_index=True, width="stretch", key="import_columns")


def starter_section(store: ConfigStore, done: dict) -> None:
    """The starter config: view, download, save to the store, and open the Calibrate page on it."""
    st.subheader("Starter config")
    st.caption("Every rule at 0 points: categorical values and numeric bins (at the quartiles) from your data, "
               "each activity column and event type as an engagement rule. Calibrate it on the Calibrate page.")
    st.code(done["yaml"], language="yaml")
    starter = done["yaml"]
    st.download_button("Download the starter config", lambda: starter, file_name=f"{done['model']}.yaml",
                       mime="text/yaml", key="starter_download", on_click="ignore")
    name = st.text_input("Model name in the store", value=done["model"], key="starter_name")
    if st.button(f"Save starter config to the store as model {plain(name)}", key="starter_save"):
        try:
            version, seed = save_starter(store, name, parse_config(done["yaml"], "starter config"),
                                         note=f"starter config from the import into {done['db']}")
        except (StoreError, ValueError, OSError) as exc:
            st.error(plain(exc))
        else:
            st.session_state["import_saved"] = {"model": version.name, "ref": version.ref}
            st.success(f"Saved {version.ref} in {plain(store.root)}" + (
                f"; it is also the model's starting point ({plain(seed.name)}) until a version is approved."
                if seed else "."))
    saved = st.session_state.get("import_saved")
    if not saved:
        return

    def use_imported() -> None:  # the draft starts from the imported model (asks first if it has unsaved changes)
        session.request(f"calibrate the model {saved['model']} on the imported data", done["db"], saved["model"])

    st.caption(f"To open it later: pick {plain(Path(done['db']).name)} as the database and model "
               f"**{plain(saved['model'])}** in the sidebar.")
    if st.button("Calibrate on this data", key="open_calibrate", type="primary", on_click=use_imported):
        st.switch_page("pages/calibrate.py")
