"""Import: bring your own CRM and marketing exports (CSV, Parquet) into a leadcal DuckDB.
Preview the files, confirm or edit the proposed column mapping, import, and start
calibrating on your own data with the generated starter config."""

import json
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from scoring.config import parse_config
from scoring.import_mapping import ROLES, dump_mapping, won_lost_values
from scoring.import_read import DataImportError
from scoring.importer import (check, inspect_files, lead_choices, model_name, run_import, save_starter,
                              stage_upload)
from scoring.store import StoreError
from ui import sidebar

NONE = "(none)"
ROLE_HELP = {"leads": "one row per lead", "events": "one row per event: lead id, type, time",
             "attributes": "joined onto the leads on a key (e.g. companies by name)", "ignore": "not imported"}

ctx = sidebar.render(require_data=False)
st.title("Import your data")
st.caption("CSV or Parquet exports of your CRM or marketing platform: a leads (contacts) file, optionally "
           "an activities file (lead id, type, time) and attribute files joined on a key (e.g. companies). "
           "Your files are only read; leadcal writes a DuckDB file of its own, whole or not at all.")

# ------------------------------------------------------------------ 1. files
uploads = st.file_uploader("Files", type=["csv", "tsv", "txt", "parquet", "pq"], accept_multiple_files=True,
                           key="import_uploads")
typed = st.text_area("…or paths of files on this machine, one per line", key="import_paths", height=80)
if "import_upload_dir" not in st.session_state:
    st.session_state["import_upload_dir"] = tempfile.mkdtemp(prefix="leadcal-uploads-")
paths = [stage_upload(st.session_state["import_upload_dir"], f.name, f.getvalue()) for f in uploads or []]
paths += [Path(line.strip()) for line in typed.splitlines() if line.strip()]
if not paths:
    st.info("Add the files to import. leadcal proposes which file is which and what each column is; you "
            "confirm or change it before anything is written.")
    st.stop()


@st.cache_data(max_entries=8, show_spinner="Reading the files...")
def _inspect(files: tuple, roles: str, types: str):
    """Inspection of the files (cached on their identity and the roles and types asked for)."""
    return inspect_files([f[0] for f in files], roles=json.loads(roles) or None, types=json.loads(types) or None)


def _identity(path: Path) -> tuple:
    try:
        st_ = path.stat()
        return str(path), st_.st_size, st_.st_mtime_ns
    except OSError:
        return str(path), None, None


roles_asked = st.session_state.get("import_roles", {})
types_asked = st.session_state.get("import_types", {})
try:
    ins = _inspect(tuple(_identity(p) for p in paths), json.dumps(roles_asked, sort_keys=True),
                   json.dumps(types_asked, sort_keys=True))
except DataImportError as exc:
    st.error("These files cannot be imported:\n\n" + "\n".join(f"- {p}" for p in exc.problems))
    if (roles_asked or types_asked) and st.button("Forget the roles and types chosen", key="reset_roles"):
        st.session_state.pop("import_roles", None)
        st.session_state.pop("import_types", None)
        st.rerun()
    st.stop()
data = json.loads(json.dumps(ins.mapping))
sig = str(abs(hash((tuple(str(p) for p in paths), json.dumps(roles_asked, sort_keys=True),
                    json.dumps(types_asked, sort_keys=True)))))  # fresh widgets when the proposal changes

# ------------------------------------------------------------------ 2. preview and roles
st.subheader("Files")
entries = {e["file"]: e for e in data["files"]}
new_roles, new_types = {}, {}
for key, profile in ins.profiles.items():
    entry = entries[key]
    with st.expander(f"{profile.name}: {profile.rows:,} rows, {len(profile.columns)} columns, "
                     f"proposed as **{entry['role']}**", expanded=entry["role"] == "leads"):
        role = st.selectbox("What this file is", ROLES, index=ROLES.index(entry["role"]), key=f"role_{key}",
                            format_func=lambda r: f"{r}: {ROLE_HELP[r]}")
        if role != entry["role"]:
            new_roles[key] = role
        st.dataframe(pd.DataFrame(profile.preview), hide_index=True, width="stretch", key=f"preview_{key}")
        st.dataframe(pd.DataFrame([{
            "column": c.original, "clean name": c.clean, "type": c.kind,
            "filled": c.filled / c.rows if c.rows else None, "placeholders": c.placeholders,
            "unreadable": c.unreadable, "values": ", ".join(str(v) for v, _ in c.top[:5])}
            for c in profile.columns]), hide_index=True, width="stretch", key=f"columns_{key}",
            column_config={"filled": st.column_config.NumberColumn(format="percent")})
        forced = st.text_input("Force types (COLUMN=text|boolean|integer|number|time, comma-separated)",
                               value=", ".join(f"{c}={k}" for c, k in entry.get("types", {}).items()),
                               key=f"types_{key}_{sig}")
        for part in filter(None, (x.strip() for x in forced.split(","))):
            col, _, kind = part.rpartition("=")
            if col.strip():
                new_types[col.strip()] = kind.strip()
for note in ins.notes:
    st.caption(note)
if (new_roles or new_types != types_asked) and st.button("Re-read with these roles and types", key="reread"):
    st.session_state["import_roles"] = {**roles_asked, **new_roles}
    st.session_state["import_types"] = new_types
    st.rerun()

# ------------------------------------------------------------------ 3. the mapping
st.subheader("Column mapping")
st.caption("Proposed from the column names, types and values; change anything that is wrong.")
leads = next(e for e in data["files"] if e["role"] == "leads")
choices = lead_choices(ins, data)
refs = [r for r, _ in choices]
kind_of = {r: c.kind for r, c in choices}
lp = ins.profiles[leads["file"]]


def pick(label: str, key: str, current: str | None, options: list[str], optional: bool = True, **kw) -> str | None:
    opts = ([NONE] if optional else []) + options
    index = opts.index(current) if current in opts else 0
    value = st.selectbox(label, opts, index=index, key=f"{key}_{sig}", **kw)
    return None if value == NONE else value


c1, c2, c3 = st.columns(3)
with c1:
    leads["id"] = pick("Lead id (unique per row)", "map_id", leads.get("id"), [c.original for c in lp.columns])
    leads["created_at"] = pick("Created time", "map_created", leads.get("created_at"),
                               [r for r in refs if kind_of[r] == "time"],
                               help="None: the data has no creation times (no point-in-time scoring).")
    leads["deal_value"] = pick("Deal value", "map_deal", leads.get("deal_value"),
                               [r for r in refs if kind_of[r] in ("integer", "number")])
    leads["segment"] = pick("Segment (filter in the app)", "map_segment", leads.get("segment"), refs)
outcome = dict(leads.get("outcome") or {})
with c2:
    column = pick("Outcome: yes/no or stage column", "map_outcome", outcome.get("column"),
                  [r for r in refs if kind_of[r] in ("boolean", "text", "integer")])
    outcome = {"column": column, "date": outcome.get("date")}
    col = next((c for r, c in choices if r == column), None)
    if col is not None and col.kind == "text":
        values = [str(v) for v, _ in col.top]
        won, lost = won_lost_values(col)
        proposed = leads.get("outcome") or {}
        same = proposed.get("column") == column
        outcome["won"] = st.multiselect("Stages meaning won", values, default=[v for v in (
            proposed.get("won") if same else won) or [] if v in values], key=f"map_won_{column}_{sig}")
        outcome["lost"] = st.multiselect("Stages meaning lost (others are open: immature, never lost)", values,
                                         default=[v for v in (proposed.get("lost") if same else lost) or []
                                                  if v in values], key=f"map_lost_{column}_{sig}")
    outcome["date"] = pick("Conversion time", "map_conv_date", outcome.get("date"),
                           [r for r in refs if kind_of[r] == "time"])
    leads["outcome"] = {k: v for k, v in outcome.items() if v}
with c3:
    leads["fit"] = st.multiselect("Fit attributes", refs, default=[r for r in leads.get("fit", []) if r in refs],
                                  key=f"map_fit_{sig}")
    leads["activity"] = st.multiselect("Activity counts", [r for r in refs if kind_of[r] in ("integer", "number",
                                                                                              "boolean")],
                                       default=[r for r in leads.get("activity", []) if r in refs],
                                       key=f"map_activity_{sig}")
for entry in data["files"]:
    profile = ins.profiles[entry["file"]]
    names = [c.original for c in profile.columns]
    if entry["role"] == "events":
        st.markdown(f"**{profile.name}** (events)")
        e1, e2, e3 = st.columns(3)
        with e1:
            entry["lead_id"] = pick("Lead id", f"ev_id_{entry['file']}", entry.get("lead_id"), names, False)
        with e2:
            if entry.get("type_value"):
                entry["type_value"] = st.text_input("Event type (every row)", entry["type_value"],
                                                    key=f"ev_tv_{entry['file']}_{sig}")
            else:
                entry["type"] = pick("Event type", f"ev_type_{entry['file']}", entry.get("type"), names, False)
        with e3:
            entry["time"] = pick("Time", f"ev_time_{entry['file']}", entry.get("time"), names, False)
    elif entry["role"] == "attributes":
        st.markdown(f"**{profile.name}** (attributes, joined onto the leads)")
        a1, a2 = st.columns(2)
        with a1:
            entry["key"] = pick("Key in this file", f"at_key_{entry['file']}", entry.get("key"), names, False)
        with a2:
            entry["joins"] = pick(f"Matches this column of {lp.name}", f"at_joins_{entry['file']}",
                                  entry.get("joins"), [c.original for c in lp.columns], False)
for k in [k for k, v in leads.items() if v is None and k != "created_at"]:
    del leads[k]  # an optional column set to none; created_at: null means no creation times

mapping, problems = check(data, ins.profiles)
if problems:
    st.error("Fix these before importing:\n\n" + "\n".join(f"- {p}" for p in problems))
elif not leads.get("created_at"):
    st.info("No creation times (none is mapped): leads will not be scored at a point in time. Every recorded "
            "activity counts, the outcome is the yes/no result, and open outcomes are left out as immature.")

# ------------------------------------------------------------------ 4. import
st.subheader("Import")
d1, d2 = st.columns(2)
with d1:
    target = st.text_input("DuckDB file to write", value="data/imported.duckdb", key="import_db",
                           help="Created, or updated from a copy that replaces it only when the import succeeds.")
with d2:
    model = st.text_input("Name of the starter model", value=model_name(target), key=f"import_model_{target}")
if mapping is not None:
    st.download_button("Download the mapping YAML", dump_mapping(mapping), file_name="leadcal-mapping.yaml",
                       mime="text/yaml", key="mapping_download")
if st.button("Import", type="primary", key="import_run", disabled=mapping is None or not target.strip()):
    try:
        result = run_import(paths, target.strip(), mapping, model=model.strip() or None)
    except (DataImportError, OSError, ValueError) as exc:
        st.session_state.pop("import_result", None)
        st.error(f"Nothing was written. {exc}")
    else:
        st.session_state["import_result"] = {"db": str(result.db), "report": result.report,
                                             "yaml": result.config_yaml, "model": result.config.name}

# ------------------------------------------------------------------ 5. what was imported
done = st.session_state.get("import_result")
if not done:
    st.stop()
report = done["report"]
st.success(f"Imported into `{done['db']}`: " + ", ".join(f"{t['table']} ({t['rows']:,} rows)"
                                                        for t in report["tables"]))
if not report["point_in_time"]:
    st.info("This data has no creation times, so leads are not scored at a point in time: every recorded "
            "activity counts, and open outcomes are left out as immature.")
o = report["outcome"]
if o["mode"] == "converted_at":
    st.markdown(f"**Outcome**: conversion time from '{o['date']}'" + (f" where '{o['column']}' is won" if o["column"]
                                                                      else "")
                + f": {o['converted']:,} converted, {o['not_converted']:,} not (yet).")
else:
    st.markdown(f"**Outcome**: yes/no from '{o['column'] or o['date']}': {o['converted']:,} won, "
                f"{o['not_converted']:,} lost, {o['open']:,} open (immature).")
if o.get("stages"):
    st.dataframe(pd.DataFrame(o["stages"]), hide_index=True, key="import_stages")
for note in report["notes"]:
    st.caption(note)
if report["findings"]:
    st.markdown("**Findings** (reported, not fatal)")
    st.dataframe(pd.DataFrame(report["findings"]), hide_index=True, width="stretch", key="import_findings")
with st.expander("Columns: original name -> clean name and type"):
    st.dataframe(pd.DataFrame(report["columns"]), hide_index=True, width="stretch", key="import_columns")

st.subheader("Starter config")
st.caption("Every rule at 0 points: categorical values and numeric bins (at the quartiles) from your data, "
           "each activity column and event type as an engagement rule. Calibrate it on the Calibrate page.")
st.code(done["yaml"], language="yaml")
st.download_button("Download the starter config", done["yaml"], file_name=f"{done['model']}.yaml",
                   mime="text/yaml", key="starter_download")
name = st.text_input("Model name in the store", value=done["model"], key="starter_name")
if st.button(f"Save starter config to the store as model {name}", key="starter_save"):
    try:
        version, seed = save_starter(ctx.store, name, parse_config(done["yaml"], "starter config"),
                                     note=f"starter config from the import into {done['db']}")
    except (StoreError, ValueError, OSError) as exc:
        st.error(str(exc))
    else:
        st.session_state["import_saved"] = {"model": version.name, "ref": version.ref}
        st.success(f"Saved {version.ref} in `{ctx.store.root}`" + (
            f"; it is also the model's starting point (`{seed.name}`) until a version is approved." if seed else "."))

saved = st.session_state.get("import_saved")


def _use_imported() -> None:
    st.session_state["db_path"] = done["db"]
    st.session_state["model"] = saved["model"]


if saved:
    st.caption(f"To open it later: `LEADCAL_DB={done['db']} streamlit run app.py`, then pick model "
               f"**{saved['model']}** in the sidebar.")
    if st.button("Calibrate on this data", key="open_calibrate", type="primary", on_click=_use_imported):
        st.switch_page("pages/calibrate.py")
