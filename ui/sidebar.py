"""The shared sidebar: data source, segment, and a summary of the data.

Every page calls ``render()`` first. (It lives in the pages rather than in app.py because
Streamlit's AppTest drops the entry script's sidebar on reruns.) When the data cannot be used (missing file, wrong mapping)
it says so on the page, in words, and stops: a page never shows a traceback for it.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from scoring.config import ConfigError
from scoring.report import data_summary
from scoring.source import SourceError
from scoring.store import StoreError

from . import data

ALL = "All leads"


def _stop(title: str, problems: list[str]) -> None:
    st.error(title + "\n\n" + "\n".join(f"- {p}" for p in problems))
    st.stop()


def _ensure_navigation() -> None:
    """Rerun through app.py when Streamlit ran this page on its own.

    With a ``pages/`` folder, Streamlit serves a page URL opened directly right after
    start-up (a bookmark, a refresh) the old way, without app.py's ``st.navigation``:
    wrong menu, no page config. Clearing that mode and rerunning fixes the session.
    """
    if "streamlit.testing.v1" in sys.modules:
        return  # AppTest resets this mode before every run by design; rerunning would eat clicks
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internal: nothing to fix
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def _default_model(path_text: str, models: list[str]) -> str:
    """``$LEADCAL_MODEL``, else the model an import into this database saved, else 'default'."""
    wanted = os.environ.get("LEADCAL_MODEL")
    if not wanted:
        try:
            from scoring.importer import last_import

            wanted = (last_import(path_text) or {}).get("model") if os.path.isfile(path_text) else None
        except Exception:  # not an imported database (or not a database): no preference
            wanted = None
    return wanted if wanted in models else "default"


PICKED = {"db_path": "_picked_db_path", "model": "_picked_model"}
"""Widget key -> a plain session key holding the pick: a widget's state belongs to its page, so
without this every page switch put the database and the model back to their defaults."""


def _remember(key: str) -> None:
    st.session_state[PICKED[key]] = st.session_state.get(key)


def pick(db: str, model: str) -> None:
    """Use this database and model on every page from the next run (the Import page's button)."""
    for key, value in (("db_path", db), ("model", model)):
        st.session_state[key] = value
        st.session_state[PICKED[key]] = value


def render(require_data: bool = True) -> data.Context:
    """Draw the sidebar and return the page context.

    When the data cannot be used, a page that needs it stops with a clear message; a page
    that does not (Import) gets a warning and goes on.
    """
    _ensure_navigation()
    for key, shadow in PICKED.items():  # the picks of the page before
        if st.session_state.get(shadow) is not None:
            st.session_state[key] = st.session_state[shadow]
    with st.sidebar:
        st.subheader("Data source")
        if "db_path" in st.session_state:  # set by the user or by the Import page: keep it
            st.text_input("DuckDB file", key="db_path", help="Opened read-only. Set LEADCAL_DB to change the default.",
                          on_change=_remember, args=("db_path",))
        else:
            st.text_input("DuckDB file", value=os.environ.get("LEADCAL_DB") or str(data.DEMO_DB), key="db_path",
                          help="Opened read-only. Set LEADCAL_DB to change the default.", on_change=_remember,
                          args=("db_path",))
        models = sorted(set(data.store().models()) | {"default"})
        if "model" in st.session_state and st.session_state["model"] in models:
            model = st.selectbox("Model", models, key="model", on_change=_remember, args=("model",),
                                 help="Its champion (latest approved version) is the approved model.")
        else:
            st.session_state.pop("model", None)
            model = st.selectbox("Model", models, index=models.index(_default_model(st.session_state["db_path"], models)),
                                 key="model", help="Its champion (latest approved version) is the approved model.",
                                 on_change=_remember, args=("model",))
    for key in PICKED:
        _remember(key)
    path = data.database_path()
    approved_ref = None
    try:
        data.ensure_demo(path)
        approved, approved_ref = data.approved(model)
        features = data.features_for(path, approved)
    except (StoreError, ConfigError, SourceError) as exc:
        title = {StoreError: "The config store cannot be used:",
                 ConfigError: f"The approved config {getattr(exc, 'source', '')} cannot be used:",
                 SourceError: f"The database {getattr(exc, 'source', '')} cannot be used:"}[type(exc)]
        problems = getattr(exc, "problems", None) or [str(exc)]
        if isinstance(exc, SourceError) and approved_ref and path.is_file() and any(" not found in " in p or
                                                                                     p.startswith("table '")
                                                                                     for p in problems):
            from scoring.importer import mismatch_sentence  # the model does not fit this database: say which, and how

            title = mismatch_sentence(path, model, approved_ref, models, data.store_path()) + " What it misses:"
        if require_data:
            _stop(title, problems)
        with st.sidebar:
            st.warning(title + "\n\n" + "\n".join(f"- {p}" for p in problems))
        store = data.store()
        return data.Context(db=path, store=store, model=model, approved=store.approved_config("default"),
                            approved_ref="shipped default", segment_column=None, segment_value=None)
    seg_col = approved.source.leads.segment
    seg_value = None
    with st.sidebar:
        if seg_col and seg_col in features.categorical:
            values = sorted(str(v) for v in features.categorical[seg_col].categories)
            choice = st.selectbox("Segment", [ALL] + values, key="segment")
            seg_value = None if choice == ALL else choice
        view = data.segment_view(path, features, seg_col, seg_value)
        s = data_summary(view)
        st.subheader("The data")
        rate = "-" if s["conversion_rate"] is None else f"{s['conversion_rate']:.1%}"
        dates = (f"created {s['first_lead']} to {s['last_lead']}" if s["point_in_time"]
                 else "no creation times: not scored at a point in time")
        st.markdown(
            f"**{s['leads']:,}** leads, **{s['mature_leads']:,}** mature  \n"
            f"{dates}  \n"
            f"overall conversion **{rate}**"
            + (f"  \n{s['open_leads']:,} still open: immature, never counted as lost" if s.get("open_leads") else "")
        )
        if s["findings"]:
            with st.expander(f"{s['findings']} data-quality finding(s)"):
                for message in features.quality.messages():
                    st.caption(message)
        st.caption(f"Approved model: **{approved_ref}** · store `{data.store_path()}`")
    ctx = data.Context(db=path, store=data.store(), model=model, approved=approved, approved_ref=approved_ref,
                       segment_column=seg_col, segment_value=seg_value)
    return ctx
