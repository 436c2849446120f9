"""Configs: every saved version with its status, what changed between two versions (or
against the champion and the shipped default), joint sign-off of a version, exports
(YAML, warehouse SQL, report) and the audit trail."""

import streamlit as st

from ui import approval, configs_view, sidebar
from ui.text import plain

ctx = sidebar.render()
store = ctx.store
st.title("Approved configs")
st.caption(f"Store {plain(store.root)}. Versions are never edited or deleted; the latest approved version of a "
           f"model is its champion. Approval needs sign-off from: {plain(', '.join(store.required_roles))}.")

refs = [v.ref for m in store.models() for v in reversed(store.versions(m))]
if not refs:
    st.info("Nothing saved yet. Save a draft on the Calibrate page; until a version is approved, the "
            "shipped default is the approved model.")
    st.stop()

st.subheader("Versions")
configs_view.versions_table(store)
st.subheader("What changed")
configs_view.diff_section(store, ctx.model, refs)
approval.approval_section(ctx, refs)
configs_view.export_section(ctx, refs)
configs_view.audit_section(store)
