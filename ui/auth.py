"""Signing in when the app is shared: the login page, the session, and who may do what.

``gate()`` runs first on every rerun (app.py). On this machine only (bound to loopback, the
project's default) nobody signs in and everything works as before. Bound to anything else,
or with ``$LEADCAL_AUTH=required`` or a reverse proxy's user header configured, every page
needs a signed-in user from the users file; without a usable users file the app refuses to
serve. Sessions end after ``$LEADCAL_SESSION_HOURS`` without use; failed sign-ins are
rate-limited per name and per address (``scoring.auth.LIMITER``, shared by every session).
"""

from __future__ import annotations

import os
import time

import streamlit as st

from scoring.access.auth import (
    AuthError,
    Session,
    User,
    authenticate,
    dummy_hash,
    load_users,
    login_required,
    session_hours,
    users_path,
)

from .text import plain

SESSION = "leadcal_session"


def _address() -> str | None:
    return st.get_option("server.address")


def needed() -> bool:
    """Whether this server asks people to sign in."""
    return login_required(_address())


@st.cache_resource(max_entries=2, show_spinner=False)
def _users(path: str, mtime_ns: int) -> dict[str, User]:
    return load_users(path)


def users() -> dict[str, User]:
    """The users file, read again when it changes; AuthError when it is missing or wrong."""
    path = users_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise AuthError(f"{path}: no users file (create it with `leadcal users add NAME --role ROLE`)") from None
    return _users(str(path), mtime)


def client() -> str:
    """The browser's address, for rate limits (empty when unknown)."""
    try:
        return st.context.ip_address or ""
    except Exception:  # an older Streamlit, or no browser (AppTest)
        return ""


def current() -> User | None:
    """The signed-in user of this browser session (None when nobody needs to sign in)."""
    session = st.session_state.get(SESSION)
    return session.user if isinstance(session, Session) else None


def _proxy_user(known: dict[str, User]) -> User | None:
    header = os.environ.get("LEADCAL_AUTH_HEADER")
    if not header:
        return None
    login = (st.context.headers.get(header) or "").strip()
    user = known.get(login)
    if user is None:
        st.error(f"Your sign-in ({plain(login) or 'no name from the proxy'}) has no role in the users file; "
                 "ask the admin to add you.")
        st.stop()
    return user


def login_page() -> None:
    """The sign-in form (the only page while nobody is signed in)."""
    st.title("Sign in to leadcal")
    st.caption("This leadcal is shared on the network: sign in with the name and password the admin gave you.")
    expired = st.session_state.pop("leadcal_expired", False)
    if expired:
        st.info("Your session ended after a while without use; please sign in again.")
    with st.form("login"):
        login = st.text_input("Name", key="login_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = authenticate(users(), login, password, client())
        except AuthError as exc:
            st.error(plain(exc))
            return
        st.session_state[SESSION] = Session(user, time.time(), session_hours())
        st.rerun()


def gate() -> User | None:
    """The signed-in user; None when no sign-in is needed or nobody is signed in yet (then app.py
    shows only the sign-in page). Stops the run, saying why, when the users file cannot be used."""
    if not needed():
        return None
    dummy_hash()  # before any sign-in, so the first wrong name takes as long as any other
    try:
        known = users()
    except AuthError as exc:
        st.error("This leadcal is shared on the network, so it needs a users file, and that cannot be used:\n\n"
                 f"- {plain(exc)}\n\nThe admin adds people with `leadcal users add NAME --role ROLE` "
                 "(see the README, Security).")
        st.stop()
    proxied = _proxy_user(known)
    if proxied is not None:
        st.session_state[SESSION] = Session(proxied, time.time(), session_hours())
        return proxied
    session = st.session_state.get(SESSION)
    if isinstance(session, Session):
        if session.expired():
            del st.session_state[SESSION]
            st.session_state["leadcal_expired"] = True
        elif session.user.login in known and known[session.user.login].role == session.user.role:
            session.touch()
            return session.user
        else:  # removed from the users file, or the role changed: sign in again
            del st.session_state[SESSION]
    return None


def require() -> None:
    """Stop a page unless the gate lets this session in: a page script run on its own (Streamlit's
    old pages/ mode, or a test) never shows data to someone who has not signed in."""
    if needed() and gate() is None:
        st.warning("Your session ended after a while without use; please sign in again."
                   if st.session_state.get("leadcal_expired") else "Please sign in first.")
        if st.button("Go to the sign-in page", key="to_sign_in"):
            st.rerun()
        st.stop()


def sign_out() -> None:
    st.session_state.pop(SESSION, None)


def sidebar_line(user: User | None) -> None:
    """Who is signed in, and the way out."""
    if user is None:
        return
    st.caption(f"Signed in as **{plain(user.name)}** ({plain(user.role)})")
    if not os.environ.get("LEADCAL_AUTH_HEADER"):
        st.button("Sign out", key="sign_out", on_click=sign_out)


def may_edit(user: User | None) -> bool:
    """Saving, importing and approving: anyone when nobody signs in; otherwise every role but viewer."""
    return user is None or user.can_edit


def author(user: User | None) -> str | None:
    """Who is recorded as the author of a save (None: the store's default, ``$LEADCAL_USER``)."""
    return None if user is None else user.name
