"""Configs: every saved version with its status, what changed between two versions,
joint sign-off of a version, its audit trail, and exports (YAML, warehouse SQL, report)."""

import pandas as pd
import streamlit as st

from scoring.calibrate import model_view
from scoring.config import ConfigError
from scoring.diff import config_diff
from scoring.export import render_export
from scoring.export_sql import DIALECTS
from scoring.report import data_fingerprint
from scoring.source import SourceError
from scoring.store import SignOff, StoreError, parse_ref
from ui import data, sidebar

ctx = sidebar.render()
store = ctx.store
st.title("Approved configs")
st.caption(f"Store `{store.root}`. Versions are never edited or deleted; the latest approved version of a "
           f"model is its champion. Approval needs sign-off from: {', '.join(store.required_roles)}.")

refs = [v.ref for m in store.models() for v in reversed(store.versions(m))]
if not refs:
    st.info("Nothing saved yet. Save a draft on the Calibrate page; until a version is approved, the "
            "shipped default is the approved model.")
    st.stop()

st.subheader("Versions")
rows = [{"version": v.ref, "status": store.status(m, v.version), "saved": v.created_at, "author": v.author,
         "from": v.parent or "", "note": v.note} for m in store.models() for v in reversed(store.versions(m))]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="versions")

st.subheader("What changed")
c1, c2 = st.columns(2)
before_ref = c1.selectbox("Before", refs, index=min(1, len(refs) - 1), key="diff_before")
after_ref = c2.selectbox("After", refs, index=0, key="diff_after")
diff = config_diff(store.load(*parse_ref(before_ref)), store.load(*parse_ref(after_ref)))
if diff:
    st.dataframe(pd.DataFrame(diff).astype(str), hide_index=True, width="stretch", key="diff_table")
else:
    st.info(f"{before_ref} and {after_ref} score leads the same way.")

st.subheader("Approve")
drafts = [r for r in refs if store.status(*parse_ref(r)) == "draft"]
if not drafts:
    st.caption("Every version is approved.")
else:
    with st.form("approve_form"):
        target = st.selectbox("Version to approve", drafts, key="approve_ref")
        names = {role: st.text_input(f"Signed off for {role} by", key=f"signoff_{role}",
                                     placeholder="full name") for role in store.required_roles}
        rationale = st.text_area("Rationale", key="rationale", placeholder="Why this version, in a sentence")
        submitted = st.form_submit_button("Approve", type="primary")
    if submitted:
        name, version = parse_ref(target)
        people = [SignOff(who.strip(), role) for role, who in names.items() if who.strip()]
        try:
            store.check_approvable(name, version, people, rationale)
            config = store.load(name, version)
            features = data.features_for(ctx.db, config)
            view = model_view(config, features)
            store.approve(name, version, people, rationale, calibration={"result": view.result, "kpis": view.kpis},
                          data=data_fingerprint(str(ctx.db), features))
            del view  # its per-lead scores: this page's namespace lives on in _deferred's cycle
        except (StoreError, ConfigError, SourceError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Approved {target}; {name}'s champion is now {store.champion(name).ref}.")

st.subheader("Export")
pick = st.selectbox("Version", refs, key="export_ref")
name, version = parse_ref(pick)
dialect = st.selectbox("SQL dialect", DIALECTS, key="dialect")
approval = store.approval(name, version)
if approval:
    who = ", ".join(f"{s['name']} ({s['role']})" for s in approval["signoffs"])
    st.caption(f"Approved {approval['approved_at']} by {who}: {approval['rationale']}")


def _deferred(fmt: str):
    """The export's text, made when the button is clicked, and the click logged."""
    def make() -> str:
        text = render_export(store, name, version, fmt, dialect, str(ctx.db))
        store.log("export", model=name, version=version, format=fmt,
                  dialect=dialect if fmt == "sql" else None, out="download")
        return text
    return make


c1, c2, c3 = st.columns(3)
c1.download_button("YAML", _deferred("yaml"), file_name=f"{name}-v{version}.yaml", mime="text/yaml",
                   key="dl_yaml", on_click="ignore")
c2.download_button(f"SQL ({dialect})", _deferred("sql"), file_name=f"{name}-v{version}-{dialect}.sql",
                   mime="text/plain", key="dl_sql", on_click="ignore")
c3.download_button("HTML report", _deferred("html"), file_name=f"{name}-v{version}-report.html",
                   mime="text/html", key="dl_html", on_click="ignore")

st.subheader("Audit trail")
audit = store.audit()
if audit:
    st.dataframe(pd.DataFrame(audit[::-1]).astype(str), hide_index=True, width="stretch", key="audit")
