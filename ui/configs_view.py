"""The Configs page's sections: versions, what changed, exports and the audit trail.

Statuses, diffs and audit rows come from ``scoring``; every user-written string (notes,
names, rationales) is shown in tables or escaped, never as markup.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from scoring.export.render import render_export
from scoring.export.sql import DIALECTS
from scoring.model.diff import config_diff
from scoring.registry.audit import audit_rows, local_time, signers
from scoring.registry.store import ConfigStore, parse_ref

from . import auth, data
from .approval import champion_label
from .text import plain


def versions_table(store: ConfigStore) -> None:
    """Every version with its status, newest first."""
    rows = [{"version": v.ref, "status": store.status(m, v.version), "saved": local_time(v.created_at),
             "author": v.author, "from": v.parent or "", "note": v.note}
            for m in store.models() for v in reversed(store.versions(m))]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="versions",
                 column_config={
                     "status": st.column_config.TextColumn("status", help="champion: the latest approved version, "
                                                           "what production should run; approved: approved "
                                                           "earlier; draft: not approved"),
                     "saved": st.column_config.TextColumn("saved", help="Local time."),
                     "from": st.column_config.TextColumn("started from", help="The version it was loaded from.")})


def diff_section(store: ConfigStore, model: str, refs: list[str]) -> None:
    """What changed between any two versions, the champion or the shipped default."""
    champ_ref, champ = champion_label(store, model)
    baselines = {f"shipped default of {model}": store.seed_config(model)}
    if champ_ref != "shipped default":
        baselines = {f"champion of {model} ({champ_ref})": champ, **baselines}
    options = list(baselines) + refs
    c1, c2 = st.columns(2)
    before = c1.selectbox("Before", options, index=0, key="diff_before")
    after = c2.selectbox("After", options, index=len(baselines) if refs else 0, key="diff_after")

    def config_of(label: str):
        return baselines[label] if label in baselines else store.load(*parse_ref(label))

    if before == after:
        st.info("Pick two different versions to compare.")
        return
    diff = config_diff(config_of(before), config_of(after))
    if diff:
        st.dataframe(pd.DataFrame([c.to_dict() for c in diff]).astype(str), hide_index=True, width="stretch",
                     key="diff_table")
    else:
        st.info(f"{plain(before)} and {plain(after)} score leads the same way.")


def export_section(ctx: data.Context, refs: list[str]) -> None:
    """YAML, warehouse SQL and the HTML report of a version (made on click, each click logged)."""
    store = ctx.store
    st.subheader("Export")
    pick = st.selectbox("Version", refs, key="export_ref")
    name, version = parse_ref(pick)
    dialect = st.selectbox("SQL dialect", DIALECTS, key="dialect")
    approval = store.approval(name, version)
    if approval:
        st.caption(f"Approved {local_time(approval['approved_at'])}, signed by "
                   f"{plain(signers(approval.get('signoffs')))}.")
        st.caption("Rationale: " + plain(approval.get("rationale", "")))
    c1, c2, c3 = st.columns(3)
    c1.download_button("YAML", _deferred(ctx, name, version, "yaml", dialect), file_name=f"{name}-v{version}.yaml",
                       mime="text/yaml", key="dl_yaml", on_click="ignore")
    c2.download_button(f"SQL ({dialect})", _deferred(ctx, name, version, "sql", dialect),
                       file_name=f"{name}-v{version}-{dialect}.sql", mime="text/plain", key="dl_sql",
                       on_click="ignore")
    c3.download_button("HTML report", _deferred(ctx, name, version, "html", dialect),
                       file_name=f"{name}-v{version}-report.html", mime="text/html", key="dl_html",
                       on_click="ignore")


def _deferred(ctx: data.Context, name: str, version: int, fmt: str, dialect: str):
    """The export's text, made when the button is clicked, and the click logged."""
    def make() -> str:
        text = render_export(ctx.store, name, version, fmt, dialect, str(ctx.db))
        ctx.store.log("export", model=name, version=version, format=fmt, by=auth.author(ctx.user),
                      dialect=dialect if fmt == "sql" else None, out="download")
        return text
    return make


def audit_section(store: ConfigStore) -> None:
    """Every save, approval and export: who, what, when (local time), newest first."""
    st.subheader("Audit trail")
    rows = audit_rows(store.audit())
    if not rows:
        st.caption("Nothing recorded yet.")
        return
    st.dataframe(pd.DataFrame([r.__dict__ for r in rows]), hide_index=True, width="stretch", key="audit",
                 column_config={"when": st.column_config.TextColumn("when", help="Local time."),
                                "who": st.column_config.TextColumn("by"),
                                "details": st.column_config.TextColumn("details", width="large")})
