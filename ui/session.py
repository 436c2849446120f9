"""One source of truth per browser session: the database, the model and the draft.

Everything the meeting edits lives in one :class:`DraftState` kept under a key no widget
uses (``st.session_state[STATE]``). Streamlit forgets a widget's value when a page that
does not draw it runs, and a sidebar widget is a different widget on every page, so
widgets never hold the truth: each is seeded from the state when it is (re)created and
writes its value back into the state on every run. What is scored, saved, approved and
downloaded is derived from the same state the widgets show.

Switching the database or the model re-seeds the draft from the new model at once, or,
when the draft has unsaved changes, asks first (:func:`request`, :func:`confirm_dialog`).
Every re-seed bumps ``generation``, which is part of every control's key, so no widget
keeps a value of the previous draft.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st

from scoring.model.config import ConfigError, ScoringConfig, config_from_dict, config_to_dict, dump_config, parse_config

STATE = "leadcal_state"
"""The session-state key of the :class:`DraftState` (not a widget key)."""

KEPT = "leadcal_kept"
"""The session-state key of page settings kept across pages (not a widget key)."""


@dataclass
class Pending:
    """A replacement of the draft waiting for the user's confirmation (unsaved changes)."""

    what: str
    """In words, e.g. 'switch to model trial-heavy'."""
    db: str
    model: str
    config_yaml: str | None = None
    """The config to start from; None: the model's approved config."""
    ref: str | None = None


@dataclass
class DraftState:
    """The session's database, model and draft (the draft as editable config data)."""

    db: str
    model: str
    data: dict | None = None
    """The draft as ``config_to_dict`` data, edited by the controls; None: seed from the approved model."""
    base_yaml: str | None = None
    """The config the draft started from (the last load, save or re-seed): unsaved changes are
    differences from it."""
    base_ref: str | None = None
    """Where the draft started: ``NAME@VERSION``, or e.g. 'shipped default'."""
    follows_approved: bool = False
    """The draft started from the approved model: while unchanged, it follows a new champion."""
    seeded: dict | None = None
    """The draft as this generation's controls were seeded (their ranges come from it)."""
    generation: int = 0
    """Part of every control's key; bumped on every re-seed so widgets start from the new draft."""
    pending: Pending | None = None
    problems: list[str] = field(default_factory=list)
    """Why the draft is invalid (set by the controls); empty when it is valid."""
    applied: str | None = None
    """A one-time message after something replaced the draft (shown on the next page run)."""
    memo: tuple | None = field(default=None, repr=False, compare=False)
    """(the draft data as JSON, its config or None, its problems): the last validation, reused while the
    data is unchanged (a page run asks for the draft several times)."""

    @property
    def parent(self) -> str | None:
        """The saved version the draft descends from, recorded as a new version's parent."""
        return self.base_ref if self.base_ref and "@" in self.base_ref else None


def initial_db() -> str:
    """``$LEADCAL_DB`` (the admin's choice), else the demo, as an absolute path."""
    from . import data

    return os.path.realpath(os.environ.get("LEADCAL_DB") or str(data.demo_db()))


def state() -> DraftState:
    """This browser session's state (created on first use from the environment)."""
    current = st.session_state.get(STATE)
    if current is None:
        current = DraftState(db=initial_db(), model="")
        st.session_state[STATE] = current
    return current


def seed_from(config: ScoringConfig, ref: str | None, *, keep_base: bool = False,
              approved: bool = False) -> None:
    """Make ``config`` the draft and re-seed every control from it.

    ``keep_base``: the draft changes but its starting point (and so "unsaved changes") does
    not, e.g. when a suggestion is applied. ``approved``: ``config`` is the approved model.
    """
    s = state()
    s.data = config_to_dict(config)
    s.seeded = copy.deepcopy(s.data)
    if not keep_base:
        s.base_yaml = dump_config(config)
        s.base_ref = ref
        s.follows_approved = approved
    s.generation += 1
    s.problems = []


def reseed_if_needed(approved: ScoringConfig, approved_ref: str) -> None:
    """Seed the draft from the approved model when nothing is seeded yet, or when an unchanged
    draft of the previous approved model meets a new champion."""
    s = state()
    if s.data is None or (s.follows_approved and s.base_ref != approved_ref and not is_dirty()):
        seed_from(approved, approved_ref, approved=True)


def draft_config() -> ScoringConfig | None:
    """The draft as a validated config, or None when it is not valid (``state().problems`` says why).

    Validated once per change of the draft data (the controls write it in place, so the data
    itself, as JSON, is the key): a slider move asks for it several times.
    """
    s = state()
    if s.data is None:
        return None
    key = json.dumps(s.data, sort_keys=True, default=str)
    if s.memo is not None and s.memo[0] == key:
        s.problems = list(s.memo[2])
        return s.memo[1]
    config = _validated(s)
    s.memo = (key, config, list(s.problems))
    return config


def _validated(s: DraftState) -> ScoringConfig | None:
    bands = s.data.get("bands")
    if isinstance(bands, str):  # the text box does not parse: say what to type, not "a valid list"
        s.problems = [f"band cut points: '{bands}' is not a list of numbers; type them like 20, 40, 60, 80"]
        return None
    try:
        config = config_from_dict(copy.deepcopy(s.data), "draft")
    except ConfigError as exc:
        s.problems = list(exc.problems)
        return None
    s.problems = []
    return config


def base_config() -> ScoringConfig | None:
    """The config the draft started from (parsed once per text: the strict YAML reader is slow)."""
    text = state().base_yaml
    return _parsed(text) if text else None


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> ScoringConfig:
    return parse_config(text, "draft start")


def is_dirty() -> bool:
    """True when the draft differs from where it started (unsaved changes)."""
    s = state()
    if s.data is None or s.base_yaml is None:
        return False
    base = base_config()
    draft = draft_config()
    return draft is None or base is None or draft != base


def mark_saved(config: ScoringConfig, ref: str) -> None:
    """After a save: the saved version is the draft's new starting point (no re-seed)."""
    s = state()
    s.base_yaml = dump_config(config)
    s.base_ref = ref
    s.follows_approved = False


def switch(db: str, model: str, config: ScoringConfig | None = None, ref: str | None = None) -> None:
    """Use another database and/or model now; the draft is re-seeded (from ``config`` or the approved model)."""
    s = state()
    s.db, s.model = db, model
    s.pending = None
    if config is None:
        s.data, s.seeded, s.base_yaml, s.base_ref = None, None, None, None
        s.generation += 1
        s.problems = []
    else:
        seed_from(config, ref)


def request(what: str, db: str, model: str, config: ScoringConfig | None = None, ref: str | None = None) -> bool:
    """Switch at once when the draft has no unsaved changes (True); else ask first (False)."""
    if is_dirty():
        s = state()
        s.pending = Pending(what, db, model, dump_config(config) if config is not None else None, ref)
        return False  # the sidebar goes on showing what is in use until the user confirms
    switch(db, model, config, ref)
    return True


def confirm_pending() -> None:
    """The user agreed to drop the draft's unsaved changes: do the pending switch."""
    p = state().pending
    if p is not None:
        switch(p.db, p.model, parse_config(p.config_yaml, p.ref or "config") if p.config_yaml else None, p.ref)


def cancel_pending() -> None:
    """The user keeps the draft: forget the pending switch."""
    state().pending = None


def apply_to_draft(config: ScoringConfig, message: str) -> None:
    """Make ``config`` the draft (its starting point stays, so it counts as unsaved), say so, rerun."""
    seed_from(config, None, keep_base=True)
    state().applied = message
    st.rerun()


def applied_message() -> str | None:
    """What the last apply-to-draft did (shown once)."""
    s = state()
    message, s.applied = s.applied, None
    return message


# ---------------------------------------------------------------------------- widgets


def control_key(name: str) -> str:
    """The key of a draft control in the current generation."""
    return f"v{state().generation}:{name}"


def seed(key: str, value: Any) -> str:
    """Give a widget its starting value from the state when it is (re)created; returns the key."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def _keep(key: str) -> None:
    st.session_state.setdefault(KEPT, {})[key] = st.session_state.get(key)


def kept(widget: Callable[..., Any], key: str, default: Any, **kwargs: Any) -> Any:
    """A setting that survives page changes: the widget always shows the kept value (a widget drawn on
    every page, like the sidebar's, is a new widget on each page); a change is kept by its callback."""
    store = st.session_state.setdefault(KEPT, {})
    st.session_state[key] = store.get(key, default)
    value = widget(key=key, on_change=_keep, args=(key,), **kwargs)
    store[key] = value
    return value


def kept_tabs(labels: list[str], key: str) -> list:
    """Tabs that stay on the open tab across reruns and page changes; only the open one runs.

    Returns ``(label, container)`` pairs of the open tab only (a widget inside a hidden tab
    costs nothing and cannot jump the view back to the first tab).
    """
    store = st.session_state.setdefault(KEPT, {})
    seed(key, store.get(key, labels[0]))
    tabs = st.tabs(labels, key=key, on_change="rerun")
    shown = []
    for label, tab in zip(labels, tabs):
        if tab.open is not False:
            store[key] = label
            shown.append((label, tab))
    return shown
