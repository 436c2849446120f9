"""Approving a version on the Configs page, so that it cannot hit the wrong version.

The version is picked first (nothing is picked by default) and named in the form's title
and submit button; submitting opens a dialog that shows the version again with its
changes from the champion, and only the dialog's button records the approval, for exactly
that version. After approving, the picker and the form start empty (a new round of keys)
and the page reruns, so statuses and the sidebar show the new champion at once. The
approver names recorded are the sign-offs' names, never the server's login.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from scoring.access.auth import AuthError, User, authenticate
from scoring.analysis.calibrate import model_view
from scoring.analysis.evidence import data_fingerprint
from scoring.data.source import SourceError
from scoring.model.config import ConfigError
from scoring.model.diff import config_diff
from scoring.registry.store import SignOff, StoreError, parse_ref

from . import auth, data
from .text import plain

ROUND = "approval_round"
PENDING = "approval_pending"
DONE = "approval_done"


@dataclass(frozen=True)
class PendingApproval:
    """What the user submitted, waiting for confirmation in the dialog."""

    ref: str
    signoffs: tuple[SignOff, ...]
    rationale: str


def _round() -> int:
    return st.session_state.setdefault(ROUND, 0)


def champion_label(store, model: str) -> tuple[str, object]:
    """The champion of ``model`` (or its shipped default) and its config."""
    champ = store.champion(model) if model in store.models() else None
    if champ is None:
        return "shipped default", store.seed_config(model)
    return champ.ref, store.load(model, champ.version)


def _cancel() -> None:
    st.session_state.pop(PENDING, None)


def _record(ctx: data.Context, pending: PendingApproval) -> str:
    """Approve exactly ``pending.ref`` with its sign-offs; returns the message to show."""
    name, version = parse_ref(pending.ref)
    config = ctx.store.load(name, version)
    with st.spinner(f"Scoring {pending.ref} on the data to record what it was approved on (a few seconds)..."):
        features = data.features_for(ctx.db, config)
        view = model_view(config, features)
        calibration = {"result": view.result.to_dict(), "kpis": view.kpis.to_dict()}
        del view  # its per-lead scores
    ctx.store.approve(name, version, list(pending.signoffs), pending.rationale, calibration=calibration,
                      data=data_fingerprint(str(ctx.db), features).to_dict(),
                      by=", ".join(s.name for s in pending.signoffs))
    return f"Approved {pending.ref}; {name}'s champion is now {ctx.store.champion(name).ref}."


@st.dialog("Confirm the approval", width="large", on_dismiss=_cancel)
def _confirm(ctx: data.Context, pending: PendingApproval) -> None:
    name, version = parse_ref(pending.ref)
    st.markdown(f"### Approve **{plain(pending.ref)}**?")
    label, champion = champion_label(ctx.store, name)
    changes = [c for c in config_diff(champion, ctx.store.load(name, version)) if c.what != "name"]
    if changes:
        st.markdown(f"What changes from the champion (**{plain(label)}**), rule by rule:")
        st.dataframe(pd.DataFrame([c.to_dict() for c in changes]).astype(str), hide_index=True, width="stretch",
                     key="confirm_diff")
    else:
        st.info(f"{plain(pending.ref)} scores leads exactly like the champion ({plain(label)}).")
    st.markdown("**Signed off by**")
    st.dataframe(pd.DataFrame([{"name": s.name, "signs as": s.role} for s in pending.signoffs]),
                 hide_index=True, key="confirm_signoffs")
    st.markdown("**Rationale**")
    st.text(pending.rationale)
    st.caption(f"Approvals are final. The approval records the calibration of {pending.ref} on "
               f"{plain(ctx.db)}.")
    c1, c2 = st.columns(2)
    if c1.button(f"Approve {pending.ref}", type="primary", key="confirm_approve"):
        try:
            message = _record(ctx, pending)
        except (StoreError, ConfigError, SourceError, ValueError) as exc:
            st.error(plain(exc))
            return
        st.session_state[DONE] = message
        st.session_state[ROUND] = _round() + 1  # a fresh, empty picker and form
        st.session_state.pop(PENDING, None)
        st.rerun()
    if c2.button("Cancel", key="confirm_cancel"):
        _cancel()
        st.rerun()


def _signer_fields(user: User | None, role: str, key: str) -> tuple[str, str] | None:
    """The fields of one required role's sign-off; None when the signed-in user signs it."""
    if user is None:  # nobody signs in on this machine: the meeting types the names
        return st.text_input(f"Signed off for {plain(role)} by", key=key, placeholder="full name"), ""
    if user.role == role:
        st.markdown(f"Signed off for {plain(role)} by **{plain(user.name)}** (you)")
        return None
    c1, c2 = st.columns(2)
    login = c1.text_input(f"Signed off for {role} by (their sign-in name)", key=key)
    password = c2.text_input(f"Their password ({role})", type="password", key=key + ":password")
    return login, password


def _signoffs(user: User | None, entries: dict[str, tuple[str, str] | None]) -> tuple[SignOff, ...]:
    """Sign-offs from the form. Signed in, each role is signed by a different person who has that role:
    the signed-in user for their own, others with their password (rate-limited like a sign-in)."""
    if user is None:
        return tuple(SignOff(who.strip(), role) for role, (who, _) in entries.items() if who.strip())
    people, seen = [], {user.login} if user.role in entries else set()
    for role, entry in entries.items():
        if entry is None:
            people.append(SignOff(user.name, role))
            continue
        login, password = entry
        if not login.strip():
            continue  # check_approvable names the missing role
        signer = authenticate(auth.users(), login, password, auth.client())
        if signer.role != role:
            raise AuthError(f"{signer.name} signs in as {signer.role}, not {role}: a person signs only for "
                            "their own role")
        if signer.login in seen:
            raise AuthError(f"{signer.name} already signs this approval: each role needs a different person")
        seen.add(signer.login)
        people.append(SignOff(signer.name, role))
    return tuple(people)


def approval_section(ctx: data.Context, refs: list[str]) -> None:
    """Pick a draft version, fill its sign-offs and rationale, confirm in a dialog."""
    store = ctx.store
    st.subheader("Approve")
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(plain(done))
    drafts = [r for r in refs if store.status(*parse_ref(r)) == "draft"]
    if not drafts:
        st.caption("Every saved version is approved. Save a new version on the Calibrate page to change the model.")
        return
    user = ctx.user
    if user is not None and not user.can_edit:
        st.info(f"You are signed in as a viewer ({plain(user.name)}): viewers see every version but cannot approve.")
        return
    n = _round()
    pick = st.selectbox("Version to approve", drafts, index=None, placeholder="Pick the version to approve",
                        key=f"approve_pick:{n}", help="Only versions not yet approved are listed.")
    if pick is None:
        st.caption("Pick a version first: the form then names it, and a confirmation shows what it changes.")
        return
    with st.form(f"approve_form:{n}:{pick}"):
        st.markdown(f"#### Approve {plain(pick)}")
        entries = {role: _signer_fields(user, role, f"approve:{n}:{pick}:{role}") for role in store.required_roles}
        rationale = st.text_area("Rationale", key=f"approve:{n}:{pick}:rationale",
                                 placeholder="Why this version, in a sentence")
        submitted = st.form_submit_button(f"Approve {pick}...", type="primary")
    if submitted:
        name, version = parse_ref(pick)
        try:
            people = _signoffs(user, entries)
            store.check_approvable(name, version, list(people), rationale)
        except (StoreError, AuthError) as exc:
            st.error(plain(exc))
        else:
            st.session_state[PENDING] = PendingApproval(pick, people, rationale.strip())
    pending = st.session_state.get(PENDING)
    if pending is not None:
        _confirm(ctx, pending)
