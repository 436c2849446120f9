"""Import: bring your own CRM and marketing exports (CSV, Parquet) into a leadcal DuckDB.
Preview the files, confirm or edit the proposed column mapping, import, and start
calibrating on your own data with the generated starter config."""

import json
import os
import tempfile

import streamlit as st

from scoring.access import folders
from scoring.imports.importer import check, file_identity, inspect_files, model_name, run_import, stage_upload
from scoring.imports.mapping import dump_mapping
from scoring.imports.read import DataImportError
from ui import auth, import_form, sidebar
from ui.text import plain

ctx = sidebar.render(require_data=False)
st.title("Import your data")
st.caption("CSV or Parquet exports of your CRM or marketing platform: a leads (contacts) file, optionally "
           "an activities file (lead id, type, time) and attribute files joined on a key (e.g. companies). "
           "Your files are only read; leadcal writes a DuckDB file of its own, whole or not at all.")
if not auth.may_edit(ctx.user):
    st.info("You are signed in as a viewer: viewers cannot import data.")
    st.stop()

# ------------------------------------------------------------------ 1. files
uploads = st.file_uploader("Files", type=["csv", "tsv", "txt", "parquet", "pq"], accept_multiple_files=True,
                           key="import_uploads")
exports = {str(c.path): c.label for c in folders.exports()}
picked = st.multiselect("…or exports already in the data folders", list(exports), format_func=exports.get,
                        key="import_picks", help="CSV and Parquet files in the folders the admin allowed "
                                                 "(LEADCAL_DATA_DIRS); the browser cannot name other server files.")
if "import_upload_dir" not in st.session_state:
    st.session_state["import_upload_dir"] = tempfile.mkdtemp(prefix="leadcal-uploads-")
paths = [stage_upload(st.session_state["import_upload_dir"], f.name, f.getvalue()) for f in uploads or []]
try:
    paths += [folders.inside(p) for p in picked]
except folders.FolderError as exc:
    st.error(plain(exc))
    st.stop()
if not paths:
    st.info("Add the files to import. leadcal proposes which file is which and what each column is; you "
            "confirm or change it before anything is written.")
    st.stop()


@st.cache_data(max_entries=8, show_spinner="Reading the files...")
def _inspect(files: tuple, roles: str, types: str):
    """Inspection of the files (cached on their identity and the roles and types asked for)."""
    return inspect_files([f[0] for f in files], roles=json.loads(roles) or None, types=json.loads(types) or None)


roles_asked = json.dumps(st.session_state.get("import_roles", {}), sort_keys=True)
types_asked = json.dumps(st.session_state.get("import_types", {}), sort_keys=True)
try:
    ins = _inspect(tuple(file_identity(p) for p in paths), roles_asked, types_asked)
except DataImportError as exc:
    st.error("These files cannot be imported:\n\n" + "\n".join(f"- {plain(p)}" for p in exc.problems))
    if (roles_asked != "{}" or types_asked != "{}") and st.button("Forget the roles and types chosen",
                                                                    key="reset_roles"):
        st.session_state.pop("import_roles", None)
        st.session_state.pop("import_types", None)
        st.rerun()
    st.stop()
mapping_data = json.loads(json.dumps(ins.mapping))
sig = str(abs(hash((tuple(str(p) for p in paths), roles_asked, types_asked))))  # fresh widgets per proposal

# ------------------------------------------------------------------ 2. preview and roles
st.subheader("Files")
new_roles, new_types = import_form.file_roles(ins, mapping_data, sig)
if (new_roles or new_types != json.loads(types_asked)) and st.button("Re-read with these roles and types",
                                                                      key="reread"):
    st.session_state["import_roles"] = {**json.loads(roles_asked), **new_roles}
    st.session_state["import_types"] = new_types
    st.rerun()

# ------------------------------------------------------------------ 3. the mapping
st.subheader("Column mapping")
st.caption("Proposed from the column names, types and values; change anything that is wrong.")
import_form.mapping_editor(ins, mapping_data, sig)
mapping, problems = check(mapping_data, ins.profiles)
leads = next(e for e in mapping_data["files"] if e["role"] == "leads")
if problems:
    st.error("Fix these before importing:\n\n" + "\n".join(f"- {plain(p)}" for p in problems))
elif not leads.get("created_at"):
    st.info("No creation times (none is mapped): leads will not be scored at a point in time. Every recorded "
            "activity counts, the outcome is the yes/no result, and open outcomes are left out as immature.")

# ------------------------------------------------------------------ 4. import
st.subheader("Import")
d1, d2 = st.columns(2)
name = d1.text_input("Name of the database to write", value="imported", key="import_db",
                     help=f"Written to {folders.data_dir()}/NAME.duckdb, leadcal's data folder, and nowhere else: "
                          "created, or updated from a copy that replaces it only when the import succeeds.")
try:
    target = str(folders.import_target(name))
except folders.FolderError as exc:
    st.error(plain(exc))
    target = ""
model = d2.text_input("Name of the starter model", value=model_name(target or "imported"),
                      key=f"import_model_{target}")
if mapping is not None:
    st.download_button("Download the mapping YAML", lambda text=dump_mapping(mapping): text, file_name="leadcal-mapping.yaml",
                       mime="text/yaml", key="mapping_download", on_click="ignore")
if st.button("Import", type="primary", key="import_run", disabled=mapping is None or not target.strip()):
    try:
        result = run_import(paths, target.strip(), mapping, model=model.strip() or None)
    except (DataImportError, OSError, ValueError) as exc:
        st.session_state.pop("import_result", None)
        st.error(f"Nothing was written. {plain(exc)}")
    else:
        st.session_state["import_result"] = {"db": os.path.realpath(result.db), "report": result.report,
                                             "yaml": result.config_yaml, "model": result.config.name}

# ------------------------------------------------------------------ 5. what was imported
done = st.session_state.get("import_result")
if not done:
    st.stop()
import_form.import_report(done)
import_form.starter_section(ctx.store, done)
