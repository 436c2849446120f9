"""Signing in to a shared leadcal: hashed passwords only, roles checked, sign-ins rate-limited,
sessions that end, and a login whenever the app listens beyond this machine."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys

import pytest
import yaml

from scoring.access.auth import (
    AuthError,
    Limiter,
    Session,
    User,
    authenticate,
    hash_password,
    is_loopback,
    load_users,
    login_required,
    save_user,
    verify_password,
)

from .conftest import ROOT


def test_password_hash_is_salted_scrypt_and_verifies():
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")  # a fresh salt each time
    kind, n, r, p, salt, digest = a.split("$")
    import base64

    expected = hashlib.scrypt(b"correct horse", salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    assert base64.b64decode(digest) == expected  # the standard KDF, checkable without leadcal
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct horsE", a) and not verify_password("", a)
    assert not verify_password("x", "plain-text") and not verify_password("x", "md5$abc$def$1$2$3")


def test_users_file_written_private_without_the_password(tmp_path):
    path = tmp_path / "users.yaml"
    save_user(path, "ann", "sales", "s3cret pass", name="Ann Lee")
    save_user(path, "bo", "viewer", "another one")
    text = path.read_text()
    assert "s3cret" not in text and "another one" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_users(path)
    assert users["ann"] == User("ann", "Ann Lee", "sales", users["ann"].password_hash)
    assert users["ann"].can_edit and not users["bo"].can_edit


@pytest.mark.parametrize("entry, words", [
    ({"name": "Ann", "role": "sales", "password": "hunter2"}, "users.ann.password: must be a scrypt hash"),
    ({"name": "Ann", "role": "boss", "password": None}, "users.ann.role: 'boss' is not one of sales, marketing, ops, "
                                                        "viewer"),
    ({"name": "Ann", "role": "sales", "password": "scrypt$1$2$3$4$5", "admin": True}, "unknown key(s) admin"),
])
def test_bad_users_files_are_refused_with_the_field(tmp_path, entry, words):
    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump({"users": {"ann": entry}}))
    with pytest.raises(AuthError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_users(path)


def test_missing_users_file_says_how_to_make_one(tmp_path):
    with pytest.raises(AuthError, match="leadcal users add NAME --role ROLE"):
        load_users(tmp_path / "none.yaml")


def test_authenticate_same_words_for_unknown_name_and_wrong_password(tmp_path):
    save_user(tmp_path / "u.yaml", "ann", "sales", "right")
    users = load_users(tmp_path / "u.yaml")
    limiter = Limiter()
    assert authenticate(users, "ann", "right", limiter=limiter).login == "ann"
    with pytest.raises(AuthError) as wrong:
        authenticate(users, "ann", "wrong", limiter=limiter)
    with pytest.raises(AuthError) as unknown:
        authenticate(users, "zed", "right", limiter=limiter)
    assert str(wrong.value) == str(unknown.value) == "the name or the password is not right"



def test_the_unknown_name_hash_is_made_on_first_need_not_at_import():
    """Importing the module (every start of the app, every CLI command) costs no scrypt hash; the hash an
    unknown name is checked against is made once, and no password matches it."""
    code = ("import scoring.access.auth as a; print(a.dummy_hash.cache_info().currsize); "
            "h = a.dummy_hash(); print(h is a.dummy_hash(), h.startswith('scrypt$'), a.verify_password('x', h))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "True", "True", "False"]

def test_failed_sign_ins_lock_out_the_name_and_the_address_for_a_while(tmp_path):
    save_user(tmp_path / "u.yaml", "ann", "sales", "right")
    users = load_users(tmp_path / "u.yaml")
    now = [1000.0]
    limiter = Limiter(max_failures=5, window=900, lockout=300, clock=lambda: now[0])
    for _ in range(5):
        with pytest.raises(AuthError, match="not right"):
            authenticate(users, "ann", "guess", client="10.0.0.9", limiter=limiter)
    with pytest.raises(AuthError, match="too many failed sign-ins: try again in 5 minute"):
        authenticate(users, "ann", "right", client="10.0.0.9", limiter=limiter)  # even the right password
    with pytest.raises(AuthError, match="too many"):
        authenticate(users, "bo", "x", client="10.0.0.9", limiter=limiter)  # the address is locked too
    now[0] += 301
    assert authenticate(users, "ann", "right", client="10.0.0.9", limiter=limiter).login == "ann"


def test_failures_spread_over_time_do_not_lock():
    now = [0.0]
    limiter = Limiter(max_failures=3, window=60, lockout=300, clock=lambda: now[0])
    for _ in range(10):
        limiter.failed("login:ann")
        now[0] += 31  # at most two inside any minute
    assert limiter.wait("login:ann") == 0


def test_sessions_end_after_hours_without_use():
    s = Session(User("ann", "Ann", "sales"), last_seen=0.0, hours=8)
    assert not s.expired(now=8 * 3600 - 1) and s.expired(now=8 * 3600 + 1)
    s.touch(now=8 * 3600 - 1)
    assert not s.expired(now=15 * 3600)


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                               ("localhost", True), ("0.0.0.0", False), ("", False), (None, False),
                                               ("192.168.1.20", False), ("::", False), ("[::1]", True)])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_login_required_beyond_loopback_or_when_asked(monkeypatch):
    monkeypatch.delenv("LEADCAL_AUTH", raising=False)
    monkeypatch.delenv("LEADCAL_AUTH_HEADER", raising=False)
    assert not login_required("127.0.0.1") and login_required("0.0.0.0") and login_required(None)
    monkeypatch.setenv("LEADCAL_AUTH", "required")
    assert login_required("127.0.0.1")
    monkeypatch.delenv("LEADCAL_AUTH")
    monkeypatch.setenv("LEADCAL_AUTH_HEADER", "X-Remote-User")
    assert login_required("127.0.0.1")


def test_cli_users_add_and_list(tmp_path):
    path = tmp_path / "users.yaml"
    env = {**os.environ, "LEADCAL_USERS": str(path)}
    out = subprocess.run([sys.executable, "-m", "scoring.cli", "users", "add", "mia", "--role", "marketing",
                          "--name", "Mia Marketing", "--password-stdin"], input="pw for mia\n", cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pw for mia" not in path.read_text()
    assert verify_password("pw for mia", load_users(path)["mia"].password_hash)
    listed = subprocess.run([sys.executable, "-m", "scoring.cli", "users", "list"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.stdout.strip() == "mia\tmarketing\tMia Marketing"
    bad = subprocess.run([sys.executable, "-m", "scoring.cli", "users", "add", "x/y", "--role", "sales",
                          "--password-stdin"], input="p\n", cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("error: login 'x/y'")
