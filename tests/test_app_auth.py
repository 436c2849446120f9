"""The app shared on a network (AppTest): nothing without signing in; viewers look but do not save,
import or approve; each role of an approval is signed by its own person; sessions end."""

from __future__ import annotations

import re

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from scoring.access.auth import LIMITER, save_user
from scoring.data.demo import generate
from scoring.model.config import config_from_dict, load_config
from scoring.registry.store import ConfigStore

from .conftest import DEFAULT_CONFIG, ROOT
from .kpis_shown import shown_kpis

APP = str(ROOT / "app.py")
PASSWORDS = {"ann": "ann's pass", "mia": "mia's pass", "sam": "sam's pass", "vic": "vic's pass"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    generate(path, leads=3_000, seed=2)
    return path


@pytest.fixture
def shared(demo_db, tmp_path, monkeypatch):
    users = tmp_path / "users.yaml"
    for login, role, name in (("ann", "sales", "Ann Lee"), ("mia", "marketing", "Mia Marketing"),
                              ("sam", "sales", "Sam Sales"), ("vic", "viewer", "Vic Viewer")):
        save_user(users, login, role, PASSWORDS[login], name=name)
    monkeypatch.setenv("LEADCAL_USERS", str(users))
    monkeypatch.setenv("LEADCAL_AUTH", "required")  # as when bound beyond loopback
    monkeypatch.setenv("LEADCAL_DB", str(demo_db))
    monkeypatch.setenv("LEADCAL_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("LEADCAL_DATA", str(tmp_path / "data"))
    LIMITER._failures.clear()
    LIMITER._locked.clear()
    store = ConfigStore(tmp_path / "store")
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["thresholds"]["mql"] = 35.0
    store.save("default", config_from_dict(data), author="setup")
    return store


def _shown(elements):
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def _run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def _sign_in(login, password=None):
    at = _run(AppTest.from_file(APP, default_timeout=120))
    at.text_input(key="login_name").input(login)
    at.text_input(key="login_password").input(password if password is not None else PASSWORDS[login])
    at.button[0].click()
    return _run(at)


def test_nothing_but_the_sign_in_page_without_signing_in(shared):
    at = _run(AppTest.from_file(APP, default_timeout=120))
    assert [t.value for t in at.title] == ["Sign in to leadcal"]
    assert not shown_kpis(at) and not at.sidebar.selectbox  # no data, no pickers
    at = _sign_in("ann", "wrong")
    assert "the name or the password is not right" in _shown(at.error)
    assert [t.value for t in at.title] == ["Sign in to leadcal"]


def test_a_signed_in_editor_saves_as_themself(shared):
    at = _sign_in("ann")
    assert any(m.label == "AUC" for m in shown_kpis(at))
    assert any("Signed in as **Ann Lee** (sales)" in c for c in _shown(at.sidebar.caption))
    at.text_input(key="save_name:default").input("default")
    g = at.session_state["leadcal_state"].generation
    at.slider(key=f"v{g}:eng:0:points").set_value(12)
    _run(at)
    at.button(key="save").click()
    _run(at)
    v = shared.get("default", 2)
    assert v.author == "Ann Lee"
    assert shared.audit()[-1]["by"] == "Ann Lee"


def test_a_viewer_looks_but_cannot_save_import_or_approve(shared):
    at = _sign_in("vic")
    assert any(m.label == "AUC" for m in shown_kpis(at))
    assert at.button(key="save").disabled
    at.switch_page("pages/import_data.py")
    _run(at)
    assert any("viewers cannot import" in i for i in _shown(at.info))
    assert not at.get("file_uploader")
    at.switch_page("pages/configs.py")
    _run(at)
    assert any("cannot approve" in i for i in _shown(at.info))
    assert not [s for s in at.selectbox if s.key and s.key.startswith("approve_pick")]
    assert shared.approval("default", 1) is None


def _approve_form(at, marketing_login, marketing_password, rationale="MQL 35 fits capacity"):
    at.switch_page("pages/configs.py")
    _run(at)
    at.selectbox(key="approve_pick:0").set_value("default@1")
    _run(at)
    assert any("Signed off for sales by **Ann Lee** (you)" in m for m in _shown(at.markdown))
    assert not [t for t in at.text_input if t.key == "approve:0:default@1:sales"]  # ann cannot sign for others
    at.text_input(key="approve:0:default@1:marketing").input(marketing_login)
    at.text_input(key="approve:0:default@1:marketing:password").input(marketing_password)
    at.text_area(key="approve:0:default@1:rationale").input(rationale)
    next(b for b in at.button if b.label == "Approve default@1...").click()
    return _run(at)


def test_each_role_is_signed_by_its_own_person(shared):
    at = _sign_in("ann")
    at = _approve_form(at, "sam", PASSWORDS["sam"])  # a second salesperson cannot sign for marketing
    assert any("Sam Sales signs in as sales, not marketing" in e for e in _shown(at.error))
    at.text_input(key="approve:0:default@1:marketing").input("mia")
    at.text_input(key="approve:0:default@1:marketing:password").input("not mia's")
    next(b for b in at.button if b.label == "Approve default@1...").click()
    _run(at)
    assert any("the name or the password is not right" in e for e in _shown(at.error))
    assert shared.approval("default", 1) is None
    at.text_input(key="approve:0:default@1:marketing:password").input(PASSWORDS["mia"])
    next(b for b in at.button if b.label == "Approve default@1...").click()
    _run(at)
    at.button(key="confirm_approve").click()
    _run(at)
    record = shared.approval("default", 1)
    assert record["signoffs"] == [{"name": "Ann Lee", "role": "sales"}, {"name": "Mia Marketing", "role": "marketing"}]
    assert record["approved_by"] == "Ann Lee, Mia Marketing"


def test_a_session_ends_after_hours_without_use(shared, monkeypatch):
    import time

    monkeypatch.setenv("LEADCAL_SESSION_HOURS", str(1.5 / 3600))  # a second and a half
    at = _sign_in("ann")
    assert any(m.label == "AUC" for m in shown_kpis(at))
    time.sleep(2)
    at.switch_page("pages/configs.py")
    _run(at)
    assert not shown_kpis(at) and not at.title and not at.sidebar.selectbox  # the page shows nothing
    assert any("session ended after a while without use" in w for w in _shown(at.warning))
    at = _run(AppTest.from_file(APP, default_timeout=120))  # and the app, opened again, asks to sign in
    assert [t.value for t in at.title] == ["Sign in to leadcal"]


def test_no_users_file_refuses_to_serve(shared, monkeypatch, tmp_path):
    monkeypatch.setenv("LEADCAL_USERS", str(tmp_path / "missing.yaml"))
    at = _run(AppTest.from_file(APP, default_timeout=120))
    assert any("needs a users file" in e for e in _shown(at.error))
    assert not shown_kpis(at) and not at.text_input
