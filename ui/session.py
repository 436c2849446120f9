"""Session state of the calibration page: which config the controls start from.

The controls start from the approved model until the user loads a saved config or
resets. Loading or resetting bumps ``controls_version``, which gives every control a
fresh key and so a fresh starting value.
"""

from __future__ import annotations

import streamlit as st

from scoring.config import ScoringConfig, dump_config, parse_config


def base_config(approved: ScoringConfig) -> ScoringConfig:
    """The config the controls start from (the approved one until something is loaded)."""
    text = st.session_state.get("base_yaml")
    if text is None:
        return approved
    return parse_config(text, "loaded config")


def start_from(config: ScoringConfig | None, ref: str | None = None) -> None:
    """Make the controls start from ``config`` (None: the approved model) on the next run."""
    if config is None:
        st.session_state.pop("base_yaml", None)
        st.session_state.pop("base_ref", None)
    else:
        st.session_state["base_yaml"] = dump_config(config)
        st.session_state["base_ref"] = ref
    st.session_state["controls_version"] = st.session_state.get("controls_version", 0) + 1
    st.session_state.pop("last_valid_draft", None)


def remember_valid(draft: ScoringConfig | None) -> ScoringConfig | None:
    """Keep the last valid draft, so a half-typed value does not blank the charts."""
    if draft is not None:
        st.session_state["last_valid_draft"] = dump_config(draft)
        return draft
    text = st.session_state.get("last_valid_draft")
    return parse_config(text) if text else None


def parent_ref(approved_ref: str) -> str | None:
    """The saved version the controls started from, recorded as a new version's parent."""
    ref = st.session_state.get("base_ref") or approved_ref
    return ref if "@" in ref else None


def apply_to_draft(config: ScoringConfig, ref: str, message: str) -> None:
    """Make ``config`` the Calibrate page's draft, say so on the next run, and rerun."""
    start_from(config, ref)
    st.session_state["draft_applied"] = message
    st.rerun()


def applied_message() -> str | None:
    """What the last apply-to-draft did (shown once)."""
    return st.session_state.pop("draft_applied", None)
