"""A database file from elsewhere is opened with DuckDB's hardening for untrusted input: a file of
another kind gets a clear message and no download, views and macros that read files are refused,
and nothing stored in the file can read the server's files or turn the protection off."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading

import duckdb
import pytest

from scoring.data import source as smod
from scoring.data.source import SourceError, open_source

from .conftest import ROOT, file_digest


def _hostname() -> str:
    return open("/etc/hostname", encoding="utf-8").read().strip()


def _view_db(path, view_sql: str):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE outcomes (lead_id BIGINT, converted_at TIMESTAMP)")
    con.execute(view_sql)
    con.close()
    return path


def test_sqlite_file_named_duckdb_gets_a_clear_message(tmp_path):
    path = tmp_path / "crm.duckdb"
    sqlite3.connect(path).execute("CREATE TABLE leads (lead_id INTEGER)").connection.commit()
    before = file_digest(path)
    with pytest.raises(SourceError) as exc:
        open_source(path)
    assert exc.value.problems == [
        "an SQLite database, not a DuckDB one (export its tables to CSV or Parquet and import them with "
        "`leadcal import` or the Import data page)"]
    assert file_digest(path) == before


@pytest.mark.parametrize("content, words", [(b"PAR1" + b"\0" * 40, "a Parquet file"), (b"", "an empty file"),
                                            (b"lead_id,created_at\n1,2024-01-01\n", "not a DuckDB database file")])
def test_other_files_named_duckdb(tmp_path, content, words):
    path = tmp_path / "x.duckdb"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=words):
        open_source(path)


def test_no_download_is_attempted_for_a_sqlite_file(tmp_path):
    """An unreachable proxy in the environment catches any attempt to fetch an extension; even DuckDB
    opened directly (past leadcal's first-bytes check) with leadcal's settings does not try."""
    path = tmp_path / "crm.duckdb"
    sqlite3.connect(path).execute("CREATE TABLE leads (lead_id INTEGER)").connection.commit()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    hits = []

    def watch():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                hits.append(conn.recv(200))
                conn.close()
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    script = (
        "import duckdb, sys\n"
        "from scoring.data.source import SourceError, open_source, untrusted_config\n"
        f"p = {str(path)!r}\n"
        "try:\n    open_source(p)\nexcept SourceError as e:\n    print('leadcal:', e.problems[0])\n"
        "try:\n    duckdb.connect(p, read_only=True, config=untrusted_config())\n"
        "except duckdb.Error as e:\n    print('duckdb:', str(e).splitlines()[0])\n")
    env = {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    stop.set()
    thread.join()
    listener.close()
    assert "leadcal: an SQLite database, not a DuckDB one" in out.stdout, out.stdout + out.stderr
    assert "duckdb:" in out.stdout and "disabled" in out.stdout.lower(), out.stdout
    assert hits == []
    assert not (tmp_path / ".duckdb" / "extensions").exists()  # nothing installed in the home folder


def test_view_reading_a_server_file_is_refused(tmp_path):
    path = _view_db(tmp_path / "evil.duckdb",
                    "CREATE VIEW leads AS SELECT 1::BIGINT AS lead_id, now()::TIMESTAMP AS created_at, "
                    "content AS segment FROM read_text('/etc/hostname')")
    with pytest.raises(SourceError) as exc:
        open_source(path)
    assert exc.value.problems == ["view 'leads' calls read_text: leadcal does not run views or macros that read "
                                  "files; keep plain tables in the database"]
    assert _hostname() not in str(exc.value)


def test_macro_reading_files_is_refused(tmp_path):
    path = _view_db(tmp_path / "macro.duckdb",
                    "CREATE MACRO secrets() AS TABLE SELECT * FROM \"read_csv\"('/etc/passwd', sep=':')")
    with pytest.raises(SourceError, match=r"macro 'secrets' calls read_csv"):
        open_source(path)


def test_past_the_check_duckdb_itself_refuses_file_access_and_stays_locked(tmp_path, monkeypatch):
    """Defence in depth: were a view to slip past the name check, the locked settings still stop it."""
    path = _view_db(tmp_path / "evil.duckdb",
                    "CREATE VIEW leads AS SELECT content AS segment FROM read_text('/etc/hostname')")
    monkeypatch.setattr(smod, "file_readers", lambda con: [])
    with open_source(path) as source:
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            source.con.execute("SELECT * FROM leads").fetchall()
        for statement in ("SET enable_external_access = true", "SET autoload_known_extensions = true",
                          "SET lock_configuration = false", "INSTALL sqlite"):
            with pytest.raises(duckdb.Error):
                source.con.execute(statement)
        with pytest.raises(duckdb.Error):
            source.con.execute("CREATE TABLE x AS SELECT 1")  # read-only


def test_plain_views_over_tables_still_work(tmp_path):
    path = _view_db(tmp_path / "ok.duckdb",
                    "CREATE VIEW leads AS SELECT lead_id, converted_at AS created_at FROM outcomes")
    with open_source(path) as source:
        assert "leads" in source.tables


def test_cli_report_on_a_hostile_file_is_one_message(tmp_path):
    path = tmp_path / "crm.duckdb"
    sqlite3.connect(path).execute("CREATE TABLE leads (lead_id INTEGER)").connection.commit()
    out = subprocess.run([sys.executable, "-m", "scoring.cli", "report", "--db", str(path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "SQLite database" in out.stderr and "Traceback" not in out.stderr


def test_connections_opened_at_once_all_open_locked(tmp_path):
    """The app's background quality checks open the file while a page opens it too: both
    must get a connection with the configuration locked (two at once raced to lock it)."""
    db = tmp_path / "d.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    for _ in range(25):  # a fresh database instance each round: the first connection locks it
        start = threading.Barrier(6)
        opened: list = []
        failed: list = []

        def open_one() -> None:
            start.wait()
            try:
                opened.append(smod.connect_read_only(db))
            except SourceError as exc:
                failed.append(str(exc))

        threads = [threading.Thread(target=open_one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failed == [] and len(opened) == 6
        assert all(c.execute("SELECT current_setting('lock_configuration')").fetchone()[0] for c in opened)
        for c in opened:
            c.close()
