"""leadcal on a shared network, probed in Chromium as an attacker on the same network would.

Local by default; a sign-in when bound beyond loopback, where a viewer cannot approve; no
server file read or written through the browser; user data shown as text with no outside
request; hostile database files contained (an unreachable proxy catches any download)."""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import expect

from scoring.access.auth import save_user
from scoring.registry.store import ConfigStore, SignOff

from .conftest import ROOT, BrowserLog, shot, start_app
from .helpers import WAIT, metric, nav, select, settled

HOSTILE = {
    "industry": "![x](http://attacker.invalid/pixel.png)",
    "seniority": "[Re-login here](http://attacker.invalid/login)",
    "department": '<img src="http://attacker.invalid/tag.png"> :red[alarm] $x^2$',
}
NOTE = "![note](http://attacker.invalid/note.png) [Re-login here](http://attacker.invalid/relogin)"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses a TCP port listens on (Linux /proc)."""
    out = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            if v6:
                words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                out.add(socket.inet_ntop(socket.AF_INET6, b"".join(words)))
            else:
                out.add(socket.inet_ntoa(raw[::-1]))
    return out


class ProxyTrap:
    """A TCP listener set as HTTP(S) proxy: any download attempt connects to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.hits.append(conn.recv(300))
                conn.close()
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, server, browser):
    """A server on a data folder with hostile databases, behind an unreachable proxy trap."""
    base = tmp_path_factory.mktemp("hostile")
    data = base / "data"
    data.mkdir()
    shutil.copy(server["small"], data / "demo.duckdb")
    marked = data / "marked.duckdb"
    shutil.copy(server["small"], marked)
    con = duckdb.connect(str(marked))
    for column, value in HOSTILE.items():
        con.execute(f"UPDATE leads SET {column} = $v WHERE lead_id % 3 = 0", {"v": value})
    con.execute("UPDATE leads SET segment = $v WHERE lead_id % 7 = 0", {"v": HOSTILE["industry"]})
    con.close()
    sqlite3.connect(data / "sqlite.duckdb").execute("CREATE TABLE leads (lead_id INTEGER)").connection.commit()
    con = duckdb.connect(str(data / "readtext.duckdb"))
    con.execute("CREATE VIEW leads AS SELECT 1::BIGINT AS lead_id, now()::TIMESTAMP AS created_at, "
                "content AS segment FROM read_text('/etc/hostname')")
    con.close()
    store = base / "store"
    s = ConfigStore(store)
    from scoring.model.config import load_config

    s.save("default", load_config(ROOT / "data" / "configs" / "default.yaml"), author=NOTE, note=NOTE)
    s.approve("default", 1, [SignOff(NOTE, "sales"), SignOff("Mia", "marketing")], NOTE)
    trap = ProxyTrap()
    env = {"LEADCAL_DATA": str(data), "LEADCAL_STORE": str(store), "LEADCAL_DB": str(data / "demo.duckdb"),
           "HTTP_PROXY": trap.url, "HTTPS_PROXY": trap.url, "http_proxy": trap.url, "https_proxy": trap.url,
           "HOME": str(base)}
    log = base / "server.log"
    with start_app(env, log) as (url, _):
        yield {"url": url, "data": data, "store": store, "log": log, "trap": trap, "base": base}
    trap.close()


@pytest.fixture
def hpage(browser, hostile):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    pg.log = BrowserLog(pg, hostile["url"])
    yield pg
    context.close()


def _main_text(page) -> str:
    """The page's text as a reader sees it (leaving out the invisible joiners that stop autolinks)."""
    page.wait_for_timeout(300)
    return page.locator('[data-testid="stMain"]').inner_text().replace("\u2060", "")


def _clean(page, hostile) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in hostile["log"].read_text()
    assert page.log.outside == [], page.log.outside
    assert page.locator('img[src*="attacker"], a[href*="attacker"]').count() == 0
    assert hostile["trap"].hits == []


def test_default_bind_is_this_machine_only(tmp_path, server):
    """Started as the README says (no address given), the project's config binds to 127.0.0.1."""
    env = {"LEADCAL_DB": str(server["small"]), "LEADCAL_STORE": str(tmp_path / "store")}
    with start_app(env, tmp_path / "server.log", address=None) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"127.0.0.1"}
        assert "Network URL" not in (tmp_path / "server.log").read_text()


def test_shared_on_the_network_needs_a_sign_in_and_a_viewer_cannot_approve(browser, server, tmp_path):
    users = tmp_path / "users.yaml"
    save_user(users, "vic", "viewer", "vic's pass", name="Vic Viewer")
    save_user(users, "ann", "sales", "ann's pass", name="Ann Lee")
    store = tmp_path / "store"
    from scoring.model.config import load_config

    ConfigStore(store).save("default", load_config(ROOT / "data" / "configs" / "default.yaml"), author="setup")
    env = {"LEADCAL_DB": str(server["small"]), "LEADCAL_STORE": str(store), "LEADCAL_USERS": str(users),
           "LEADCAL_DATA": str(tmp_path / "data")}
    with start_app(env, tmp_path / "server.log", address="0.0.0.0") as (url, _):
        page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        page.goto(url)
        expect(page.get_by_role("heading", name="Sign in to leadcal")).to_be_visible(timeout=WAIT)
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0 or \
            "Calibrate" not in page.locator('[data-testid="stSidebarNav"]').inner_text()
        for path in ("/configs", "/import_data"):  # no page by URL either
            page.goto(url + path)
            page.wait_for_timeout(2500)
            assert page.get_by_text("Approved configs").count() == 0 and page.get_by_text("Import your data").count() == 0
        page.goto(url)
        expect(page.get_by_role("heading", name="Sign in to leadcal")).to_be_visible(timeout=WAIT)
        shot(page, "sign-in")
        page.get_by_role("textbox", name="Name").fill("vic")
        page.get_by_role("textbox", name="Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("the name or the password is not right")).to_be_visible(timeout=WAIT)
        page.get_by_role("textbox", name="Password").fill("vic's pass")
        page.get_by_role("button", name="Sign in").click()
        expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("Signed in as Vic Viewer (viewer)")
        expect(page.get_by_role("button", name="Save draft")).to_be_disabled()
        nav(page, "Configs")
        expect(page.get_by_text(re.compile("viewers see every version but cannot approve"))).to_be_visible(
            timeout=WAIT)
        expect(page.get_by_role("combobox", name="Version to approve")).to_have_count(0)
        shot(page, "configs-viewer")
        nav(page, "Import data")
        expect(page.get_by_text("viewers cannot import data")).to_be_visible(timeout=WAIT)
        assert ConfigStore(store).approval("default", 1) is None
        # failed sign-ins are limited: five wrong passwords lock the name out
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        settled(page)
        for _ in range(5):
            page.get_by_role("textbox", name="Name").fill("ann")
            page.get_by_role("textbox", name="Password").fill("guess")
            page.get_by_role("button", name="Sign in").click()
            settled(page)
        page.get_by_role("textbox", name="Password").fill("ann's pass")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(re.compile("too many failed sign-ins"))).to_be_visible(timeout=WAIT)
        page.context.close()


def test_user_data_is_shown_as_text_with_no_outside_request(hpage, hostile):
    page = hpage
    page.goto(hostile["url"])
    settled(page)
    select(page, "Database", "marked.duckdb", where=page.locator('[data-testid="stSidebar"]'), exact=False)
    expect(metric(page, "AUC")).to_be_visible(timeout=WAIT)
    page.get_by_text("Fit rules (4)").click()
    settled(page)
    shot(page, "hostile-calibrate")
    _clean(page, hostile)
    nav(page, "Data quality")
    # the category values are on the page as the characters they are
    expect(page.get_by_text("most common unnamed values").first).to_be_visible(timeout=WAIT)
    assert HOSTILE["industry"] in _main_text(page)
    shot(page, "hostile-data-quality")
    _clean(page, hostile)
    nav(page, "Configs")
    expect(page.get_by_text(re.compile("^Rationale: "))).to_be_visible(timeout=WAIT)
    assert "Rationale: " + NOTE in _main_text(page)
    shot(page, "hostile-configs")
    _clean(page, hostile)
    for title in ("Attributes", "Drift", "Import data", "Calibrate"):
        nav(page, title)
        _clean(page, hostile)


@pytest.mark.parametrize("name, words", [
    ("sqlite.duckdb", "an SQLite database, not a DuckDB one"),
    ("readtext.duckdb", "view 'leads' calls read_text: leadcal does not run views or macros that read files"),
])
def test_hostile_database_files_are_contained(hpage, hostile, name, words):
    page = hpage
    page.goto(hostile["url"])
    settled(page)
    select(page, "Database", name, where=page.locator('[data-testid="stSidebar"]'), exact=False)
    expect(page.get_by_text(words, exact=False).first).to_be_visible(timeout=WAIT)
    hostname = Path("/etc/hostname").read_text().strip()
    assert hostname not in page.locator('[data-testid="stMain"]').inner_text()
    shot(page, f"hostile-{name.split('.')[0]}")
    _clean(page, hostile)
    assert not (hostile["base"] / ".duckdb" / "extensions").exists()  # nothing installed


def test_etc_passwd_typed_anywhere_reads_and_writes_nothing(hpage, hostile, tmp_path):
    from tests.import_fixtures import write_crm

    page = hpage
    page.goto(hostile["url"])
    settled(page)
    # the sidebar offers the data folders' databases only: there is nowhere to type a path
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("combobox", name="Database", exact=True).click()
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    assert options and all(o.endswith((".duckdb", "(generated on first use)")) for o in options), options
    assert sidebar.get_by_role("textbox").count() == 0
    for title in ("Calibrate", "Import data", "Configs", "Drift", "Data quality", "Attributes"):
        nav(page, title)
        boxes = page.locator('[data-testid="stMain"]').get_by_role("textbox")
        for i in range(boxes.count()):
            box = boxes.nth(i)
            if not box.is_visible() or not box.is_editable():
                continue
            box.fill("/etc/passwd")
            box.press("Enter" if box.evaluate("e => e.tagName") == "INPUT" else "Tab")
            settled(page)
            text = page.locator('[data-testid="stMain"]').inner_text()
            assert "root:x:0:0" not in text and "/bin/bash" not in text
            boxes = page.locator('[data-testid="stMain"]').get_by_role("textbox")
    nav(page, "Import data")
    files = write_crm(tmp_path / "export")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(f) for f in files])
    settled(page)
    page.get_by_role("textbox", name="Name of the database to write").fill("../../etc/passwd")
    page.keyboard.press("Enter")
    settled(page)
    expect(page.get_by_text(re.compile("use 1-64 letters, digits"))).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    assert not Path("/etc/passwd.duckdb").exists()
    assert sorted(p.name for p in hostile["data"].iterdir()) == [
        "demo.duckdb", "marked.duckdb", "readtext.duckdb", "sqlite.duckdb"]
    _clean(page, hostile)
