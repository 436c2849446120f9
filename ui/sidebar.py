"""The shared sidebar: data source, segment, and a summary of the data.

Every page calls ``render()`` first. (It lives in the pages rather than in app.py because
Streamlit's AppTest drops the entry script's sidebar on reruns.) When the data cannot be used (missing file, wrong mapping)
it says so on the page, in words, and stops: a page never shows a traceback for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from scoring.access import folders
from scoring.analysis.report import data_summary
from scoring.data.source import SourceError
from scoring.model.config import ConfigError
from scoring.model.findings import QualityReport
from scoring.registry.store import StoreError

from . import auth, data, session
from .text import plain

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


def default_model(path_text: str, models: list[str]) -> str:
    """``$LEADCAL_MODEL``, else the model an import into this database saved, else 'default'."""
    wanted = os.environ.get("LEADCAL_MODEL")
    if not wanted:
        try:
            from scoring.imports.importer import last_import

            wanted = (last_import(path_text) or {}).get("model") if os.path.isfile(path_text) else None
        except Exception:  # not an imported database (or not a database): no preference
            wanted = None
    return wanted if wanted in models else "default"


def _on_db_changed(key: str) -> None:
    """The database picked in the sidebar: switch (re-seeding the draft) or ask first."""
    db = st.session_state.get(key) or ""
    s = session.state()
    if not db or db == s.db:
        return
    try:
        db = str(folders.inside(db))  # from the list, so inside the data folders; checked all the same
    except folders.FolderError as exc:
        st.session_state["sidebar_refused"] = str(exc)
        return
    session.request(f"open the database {Path(db).name}", db, s.model)  # the model picked stays picked


def _on_model_changed(key: str) -> None:
    """The model picked in the sidebar: switch (re-seeding the draft) or ask first."""
    model = st.session_state.get(key)
    s = session.state()
    if model and model != s.model:
        session.request(f"switch to the model {model}", s.db, model)


@st.dialog("The draft has unsaved changes", dismissible=False)
def _confirm_switch() -> None:
    p = session.state().pending
    if p is None:
        return
    st.markdown(f"You asked to **{plain(p.what)}**. That starts a new draft from "
                + ("the version loaded" if p.config_yaml else "that model's approved version")
                + ", and the changes on the Calibrate page that are not saved are lost.")
    st.caption("To keep them, choose *Keep editing*, then save the draft on the Calibrate page.")
    c1, c2 = st.columns(2)
    if c1.button("Discard the changes and switch", type="primary", key="confirm_switch"):
        session.confirm_pending()
        st.rerun()
    if c2.button("Keep editing", key="cancel_switch"):
        session.cancel_pending()
        st.rerun()


def _sources(s: session.DraftState) -> str:
    """Draw the database and model pickers (seeded from the session state); returns the model."""
    models = data.model_names()
    if not s.model or s.model not in models:
        s.model = default_model(s.db, models)
    st.subheader("Data source")
    # controlled widgets: they show the session's database and model on every page (a sidebar widget
    # is a new widget on each page); a change goes through the callbacks, which may ask first
    choices = {str(c.path): c.label for c in folders.databases()}
    if s.db not in choices:  # the start-up database ($LEADCAL_DB, or the demo before it is generated)
        choices = {s.db: Path(s.db).name + ("" if Path(s.db).exists() else " (generated on first use)"), **choices}
    st.session_state["sidebar_db"] = s.db
    st.selectbox("Database", list(choices), format_func=choices.get, key="sidebar_db", on_change=_on_db_changed,
                 args=("sidebar_db",), help="DuckDB files in the data folders the admin allowed; opened read-only "
                                            "with DuckDB's protections for files from elsewhere.")
    refused = st.session_state.pop("sidebar_refused", None)
    if refused:
        st.error(plain(refused))
    st.session_state["sidebar_model"] = s.model
    st.selectbox("Model", models, key="sidebar_model", on_change=_on_model_changed, args=("sidebar_model",),
                 help="Its champion (latest approved version) is the approved model.")
    return s.model


SHOWN_DIRTY = "_sidebar_shows_unsaved"
"""Whether the sidebar last said "unsaved changes" (a fragment rerun of the Calibrate page does not redraw it)."""
SHOWN_VALID = "_actions_show_valid"
"""Whether the Calibrate page's Save button was last drawn enabled for a valid draft (same reason)."""


def follow_draft() -> None:
    """After a fragment rerun: redraw the whole page when what the parts outside the fragment show about the
    draft (the Save button enabled for a valid draft; the sidebar's "unsaved changes" where a page shows it)
    is now wrong."""
    shown = (st.session_state.get(SHOWN_DIRTY), st.session_state.get(SHOWN_VALID))
    now = (session.is_dirty(), session.draft_config() is not None)
    if any(was is not None and was != is_ for was, is_ in zip(shown, now)):
        st.rerun(scope="app")


def _draft_line(approved_ref: str) -> None:
    """Where the draft started and whether it has unsaved changes."""
    s = session.state()
    if s.base_ref is None:
        return
    unsaved = session.is_dirty()
    st.session_state[SHOWN_DIRTY] = unsaved
    st.caption(f"Draft from **{plain(s.base_ref)}**" + (" · :orange[unsaved changes]" if unsaved else " · no changes"))


CHECKING = "Checking data quality (duplicates, unknown leads, dates)..."


def _findings(report: QualityReport) -> None:
    """The data-quality findings, folded (or why they are unknown)."""
    if report.error is not None:
        st.warning(plain(report.messages()[0]))
        return
    messages = report.messages()
    if messages:
        with st.expander(f"{len(messages)} data-quality finding(s)"):
            for message in messages:
                st.caption(plain(message))


@st.fragment(run_every=2.0)
def _findings_when_checked(report: QualityReport) -> None:
    """Polls a new database's checks still running in the background: once they are in, one full
    run of the page draws the findings in place of the "checking" line and ends the polling (a
    timed fragment reruns until a full run no longer declares it). It draws nothing itself, so a
    poll sends the browser no element to redraw beside a slider move."""
    if report.checked:
        st.rerun(scope="app")
    data.finish_loading(when_idle=True)  # once nobody has moved a slider for a few seconds


def render(require_data: bool = True, draft_line: bool = True, quality_later: bool = False) -> data.Context:
    """Draw the sidebar and return the page context.

    When the data cannot be used, a page that needs it stops with a clear message; a page
    that does not (Import) gets a warning and goes on. ``draft_line=False`` (the Calibrate
    page, whose controls say it above themselves) leaves out the draft's "unsaved changes"
    line: drawn in the sidebar, its first flip would cost a whole-page rerun on the first
    slider move of every session. On a new database's first load the data-quality checks
    run after the first view; ``quality_later`` (the Calibrate page) draws the page meanwhile
    and the findings when they are in, any other page waits for them here.
    """
    _ensure_navigation()
    auth.require()  # every page draws the sidebar first: nothing below runs without a sign-in when one is needed
    s = session.state()
    if s.pending is not None:
        _confirm_switch()
    with st.sidebar:
        model = _sources(s)
    path = data.database_path()
    approved_ref = None
    try:
        data.ensure_demo(path)
        approved, approved_ref = data.approved(model)
        features = data.features_for(path, approved)
    except (StoreError, ConfigError, SourceError) as exc:
        named = plain(Path(str(getattr(exc, "source", "") or "")).name)  # the file's name: never a server path
        title = {StoreError: "The config store cannot be used:",
                 ConfigError: f"The approved config {named} cannot be used:",
                 SourceError: f"The database {named} cannot be used:"}[type(exc)]
        problems = [plain(p) for p in (getattr(exc, "problems", None) or [str(exc)])]
        if isinstance(exc, SourceError) and approved_ref and path.is_file() and any(" not found in " in p or
                                                                                     p.startswith("table '")
                                                                                     for p in problems):
            from scoring.imports.importer import (
                mismatch_sentence,  # the model does not fit this database: say which, and how
            )

            models = data.model_names()
            title = plain(mismatch_sentence(path, model, approved_ref, models, data.store_path(), in_app=True)) + " What it misses:"
        if require_data:
            _stop(title, problems)
        with st.sidebar:
            st.warning(title + "\n\n" + "\n".join(f"- {p}" for p in problems))
        store = data.store()
        with st.sidebar:
            auth.sidebar_line(auth.current())
        return data.Context(db=path, store=store, model=model, approved=store.approved_config("default"),
                            approved_ref="shipped default", segment_column=None, segment_value=None,
                            user=auth.current())
    session.reseed_if_needed(approved, approved_ref)
    seg_col = approved.source.leads.segment
    seg_value = None
    with st.sidebar:
        if seg_col and seg_col in features.categorical:
            values = sorted(str(v) for v in features.categorical[seg_col].categories)
            kept = st.session_state.setdefault(session.KEPT, {})
            if kept.get("segment") not in [ALL] + values:
                kept["segment"] = ALL
            choice = session.kept(st.selectbox, "segment", ALL, label="Segment", options=[ALL] + values)
            seg_value = None if choice == ALL else choice
        view = data.segment_view(path, features, seg_col, seg_value)
        s_ = data_summary(view)
        st.subheader("The data")
        rate = "-" if s_.conversion_rate is None else f"{s_.conversion_rate:.1%}"
        dates = (f"created {s_.first_lead} to {s_.last_lead}" if s_.point_in_time
                 else "no creation times: not scored at a point in time")
        st.markdown(
            f"**{s_.leads:,}** leads, **{s_.mature_leads:,}** mature  \n"
            f"{dates}  \n"
            f"overall conversion **{rate}**"
            + (f"  \n{s_.open_leads:,} still open: immature, never counted as lost" if s_.open_leads else "")
        )
        if features.quality.checked:
            _findings(features.quality)
        elif quality_later:
            st.caption(CHECKING + " The findings show here when they are in.")
            data.note_activity()  # the page is being drawn now (the first load's wait above was no pause)
            _findings_when_checked(features.quality)
        else:
            with st.spinner(CHECKING):  # no first view to wait for on this page: waiting starts the checks
                features.quality.wait()
            _findings(features.quality)
        st.caption(f"Approved model: **{plain(approved_ref)}**")
        if draft_line:
            _draft_line(approved_ref)
        else:
            st.session_state[SHOWN_DIRTY] = None  # not shown here: nothing to keep up to date
        auth.sidebar_line(auth.current())
    return data.Context(db=path, store=data.store(), model=model, approved=approved, approved_ref=approved_ref,
                        segment_column=seg_col, segment_value=seg_value, user=auth.current())
