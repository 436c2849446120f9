"""Who may use a shared leadcal, and as what: users, roles, password checks, sessions, rate limits.

Used when the app is reachable from other machines (see ``login_required``). The admin
keeps the users in a YAML file (``$LEADCAL_USERS``, default ``data/users.yaml``)::

    users:
      ann:                       # the login name
        name: Ann Lee            # shown, and recorded as author and signer
        role: sales              # sales | marketing | ops | viewer
        password: scrypt$...     # `leadcal users add ann --role sales` writes it

Passwords are stored only as scrypt hashes (``hashlib.scrypt``, a random salt each) and
compared in constant time; a file with a plain-text password is refused. Alternatively a
reverse proxy that authenticates people may pass the login name in a header
(``$LEADCAL_AUTH_HEADER``); the role still comes from the users file.

Roles: ``viewer`` reads everything and changes nothing; ``sales``, ``marketing`` and
``ops`` save drafts, import data and approve, each signing only for their own role.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import math
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROLES = ("sales", "marketing", "ops", "viewer")
EDITORS = ("sales", "marketing", "ops")
"""Roles that may save, import and approve (viewers only look)."""

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""scrypt cost: 16 MB of memory and about 50 ms per check (OWASP's minimum is N=2^17 with r=8 for
fast hashes; scrypt at 2^14 is the common interactive-login setting)."""

LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
SESSION_HOURS = 8.0
"""A signed-in session ends after this many hours without use (``$LEADCAL_SESSION_HOURS``)."""

MAX_FAILURES = 5
"""Failed logins for one name (or from one address) within ``FAILURE_WINDOW`` seconds before a lock-out."""
FAILURE_WINDOW = 15 * 60
LOCKOUT = 5 * 60
"""Seconds a locked-out name or address waits before trying again."""


class AuthError(ValueError):
    """The users file or a login cannot be used; the message says why in words."""


@dataclass(frozen=True)
class User:
    """A person who may sign in."""

    login: str
    name: str
    role: str
    password_hash: str = field(default="", repr=False)

    @property
    def can_edit(self) -> bool:
        """May save drafts, import data and sign approvals (every role but viewer)."""
        return self.role in EDITORS


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, as ``scrypt$N$r$p$salt$hash`` (base64)."""
    if not password:
        raise AuthError("the password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = encoded.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def users_path() -> Path:
    """The users file: ``$LEADCAL_USERS`` or ``data/users.yaml``."""
    return Path(os.environ.get("LEADCAL_USERS", "data/users.yaml"))


def load_users(path: str | Path | None = None) -> dict[str, User]:
    """Every user of the file, by login; AuthError names each problem (file, user, field)."""
    path = Path(path) if path is not None else users_path()
    if not path.is_file():
        raise AuthError(f"{path}: no users file (create it with `leadcal users add NAME --role ROLE`)")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise AuthError(f"{path}: not readable YAML ({str(exc).splitlines()[0]})") from None
    raw = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise AuthError(f"{path}: needs a 'users:' mapping of login names to name, role and password")
    users, problems = {}, []
    for login, entry in raw.items():
        where = f"users.{login}"
        if not isinstance(login, str) or not LOGIN.match(login):
            problems.append(f"{where}: a login name is letters, digits and . _ @ - (at most 64)")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: needs name, role and password")
            continue
        role, password = entry.get("role"), entry.get("password")
        if role not in ROLES:
            problems.append(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(password, str) or not password.startswith("scrypt$") or password.count("$") != 5:
            problems.append(f"{where}.password: must be a scrypt hash written by `leadcal users add` "
                            "(plain-text passwords are refused)")
        name = str(entry.get("name") or login).strip()
        if any(ord(ch) < 32 for ch in name):
            problems.append(f"{where}.name: use a single line of text")
        unknown = set(entry) - {"name", "role", "password"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        users[login] = User(login, name, str(role), str(password))
    if problems:
        raise AuthError(f"{path}: " + "; ".join(problems))
    return users


def save_user(path: str | Path, login: str, role: str, password: str, name: str | None = None) -> User:
    """Add or replace a user in the users file (its password hashed); the file stays private (0600)."""
    path = Path(path)
    if not LOGIN.match(login or ""):
        raise AuthError(f"login {login!r}: use letters, digits and . _ @ - (at most 64)")
    if role not in ROLES:
        raise AuthError(f"role {role!r}: use one of {', '.join(ROLES)}")
    doc = {"users": {}}
    if path.exists():
        load_users(path)  # refuse to extend a broken file
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    entry = {"name": (name or login).strip(), "role": role, "password": hash_password(password)}
    doc["users"][login] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=True, allow_unicode=True)
    os.replace(tmp, path)
    return User(login, entry["name"], role, entry["password"])


class Limiter:
    """Failed logins per login name and per client address; too many lock both out for a while.

    One per server process (every browser session shares it), so guessing from several tabs
    or names at once counts together.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW, lockout: float = LOCKOUT,
                 clock=time.monotonic):
        self.max_failures, self.window, self.lockout, self._clock = max_failures, window, lockout, clock
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds until these keys may try again (0: now)."""
        now = self._clock()
        with self._lock:
            return max([0.0] + [self._locked.get(k, 0.0) - now for k in keys])

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.window] + [now]
                self._failures[key] = recent
                if len(recent) >= self.max_failures:
                    self._locked[key] = now + self.lockout
                    self._failures[key] = []

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


LIMITER = Limiter()


def authenticate(users: dict[str, User], login: str, password: str, client: str = "",
                 limiter: Limiter = LIMITER) -> User:
    """The user, when ``login`` and ``password`` match; AuthError otherwise (the same words whether the
    name or the password was wrong), or while the name or the address is locked out."""
    keys = (f"login:{login.strip().lower()}",) + ((f"client:{client}",) if client else ())
    wait = limiter.wait(*keys)
    if wait > 0:
        raise AuthError(f"too many failed sign-ins: try again in {math.ceil(wait / 60)} minute(s)")
    user = users.get(login.strip())
    # check a hash even for an unknown name, so timing does not tell which names exist
    ok = verify_password(password, user.password_hash if user else dummy_hash())
    if user is None or not ok:
        limiter.failed(*keys)
        raise AuthError("the name or the password is not right")
    limiter.succeeded(*keys)
    return user


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches, checked when the name is unknown so a wrong name takes as long as a
    wrong password. Made on first need (a served app makes it before its first sign-in form,
    ``ui.auth.gate``): made at import, its scrypt cost 0.12 s of every start and every CLI command."""
    return hash_password(secrets.token_urlsafe(12))


@dataclass
class Session:
    """A signed-in browser session; it ends after ``hours`` without use."""

    user: User
    last_seen: float
    hours: float = SESSION_HOURS

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) - self.last_seen > self.hours * 3600

    def touch(self, now: float | None = None) -> None:
        self.last_seen = now if now is not None else time.time()


def session_hours() -> float:
    """``$LEADCAL_SESSION_HOURS`` or SESSION_HOURS."""
    try:
        return float(os.environ.get("LEADCAL_SESSION_HOURS") or SESSION_HOURS)
    except ValueError:
        return SESSION_HOURS


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine can reach (127.x, ::1, localhost)."""
    if not address:
        return False  # Streamlit's default: every interface
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def login_required(address: str | None) -> bool:
    """A login is needed when the app listens beyond this machine, or when the admin asks for one
    (``$LEADCAL_AUTH=required``, e.g. behind a reverse proxy on the same machine)."""
    return os.environ.get("LEADCAL_AUTH", "").lower() == "required" or not is_loopback(address) \
        or bool(os.environ.get("LEADCAL_AUTH_HEADER"))
