"""The server reads the first page's data before any browser connects (ui/preload.py, app.py's ASGI app)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.web.server.app_discovery import discover_asgi_app

from scoring.cli import main as leadcal
from scoring.data.demo import generate
from ui import data, preload

from . import crm_exports as ce
from .conftest import ROOT
from .kpis_shown import shown_kpis

APP = ROOT / "app.py"


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """The databases extracted (or loaded from the disk cache) in this test, in order."""
    st.cache_resource.clear()
    calls: list[str] = []
    real = data._extract_base

    def counting(path, spec, progress):
        calls.append(path)
        return real(path, spec, progress)

    monkeypatch.setattr(data, "_extract_base", counting)
    yield calls
    st.cache_resource.clear()


def test_streamlit_serves_app_py_as_an_asgi_app_with_the_start_up_hook():
    found = discover_asgi_app(APP)
    assert found.is_asgi_app and found.import_string == "app:app"
    spec = importlib.util.spec_from_file_location("app", APP)  # as `streamlit run` imports it: not as the script
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert type(module.app).__name__ == "App" and module.app._user_lifespan is preload.at_server_start
    assert Path(module.app._script_path) == APP


def test_the_first_page_finds_the_data_the_server_started_reading(tmp_path, monkeypatch, counted):
    db = tmp_path / "crm.duckdb"
    generate(db, leads=3000, seed=4)
    monkeypatch.setenv("LEADCAL_DB", str(db))
    preload.start().join(timeout=120)
    assert counted == [str(db.resolve())]  # started before any session
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, at.exception
    assert [m.label for m in shown_kpis(at)][:1] == ["AUC"]
    assert counted == [str(db.resolve())]  # the page waited on the same job: read once


def test_the_first_page_finds_the_approved_model_scored_by_the_server(tmp_path, monkeypatch, counted):
    """ui.preload._first_view: the approved model is scored once its data is read, into the caches the page
    asks; the page's first run scores nothing from scratch and shows that very result."""
    from scoring.analysis.calibrate import model_view
    from scoring.model import rescore

    db = tmp_path / "crm.duckdb"
    generate(db, leads=3000, seed=5)
    monkeypatch.setenv("LEADCAL_DB", str(db))
    full_runs: list[int] = []
    real_full = rescore.full

    def counting_full(config, features, known_parts=None):
        full_runs.append(features.n)
        return real_full(config, features, known_parts)

    monkeypatch.setattr(rescore, "full", counting_full)
    preload.start().join(timeout=120)
    assert full_runs == [3000]  # the server scored the approved model before any session
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, at.exception
    assert full_runs == [3000]  # the page found it
    config, _ = data.approved("default")
    features = data.features_beside(db, config, config)
    expected = model_view(config, features)  # the same kept state, its AUC as the page shows it
    shown = next(m.value for m in shown_kpis(at) if m.label == "AUC")
    assert shown == f"{expected.kpis.auc:.3f}"


def test_the_servers_shutdown_first_finishes_a_cache_write_under_way(tmp_path, monkeypatch, counted):
    """ui.preload.at_server_start: uvicorn runs the lifespan's exit on Ctrl-C and on SIGTERM, and after a
    SIGTERM the process ends without waiting for other threads; the exit waits for the write."""
    import asyncio
    import threading
    import time

    monkeypatch.setenv("LEADCAL_DB", str(tmp_path / "nowhere.duckdb"))  # the preload reads nothing
    written = tmp_path / "entry"

    def write() -> None:
        time.sleep(0.5)
        written.write_text("done")

    async def serve_then_stop() -> None:
        async with preload.at_server_start(None):
            data._after_first_view(write).start()  # a held-back cache write, under way at the stop

    # A loop of its own in a thread of its own, as the server's: the browser tests' Playwright keeps an event
    # loop running in this thread for the whole session, and asyncio.run refuses to start beside it.
    stopped = threading.Thread(target=asyncio.run, args=(serve_then_stop(),))
    stopped.start()
    stopped.join(timeout=60)
    assert not stopped.is_alive()
    assert written.read_text() == "done"


def test_nothing_is_read_before_the_page_when_the_database_is_missing(tmp_path, monkeypatch, counted):
    monkeypatch.setenv("LEADCAL_DB", str(tmp_path / "nowhere.duckdb"))
    preload.start().join(timeout=60)
    assert counted == []  # the page says what is wrong, where the user sees it


def test_a_broken_store_stops_the_preload_quietly_and_the_page_reports_it(tmp_path, monkeypatch, counted):
    db = tmp_path / "crm.duckdb"
    generate(db, leads=500, seed=2)
    store = tmp_path / "store"
    store.mkdir()
    (store / "default.yaml").write_text("weights: [unclosed\n")
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))
    preload.start().join(timeout=60)
    assert counted == []
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    shown = " ".join(e.value for e in at.error).replace("\\", "")  # Markdown escapes removed
    assert "The approved config default.yaml cannot be used" in shown and "not valid YAML" in shown
    assert str(tmp_path) not in shown  # the browser never names a server path


def test_a_file_that_is_not_a_database_is_named_without_its_folder(tmp_path, monkeypatch, counted):
    fake = tmp_path / "hubspot-export.duckdb"
    fake.write_text("Record ID,Email\n1,a@example.com\n")  # a CSV saved under a .duckdb name
    monkeypatch.setenv("LEADCAL_DB", str(fake))
    preload.start().join(timeout=60)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    shown = " ".join(e.value for e in at.error).replace("\\", "")
    assert "The database hubspot-export.duckdb cannot be used" in shown
    assert str(tmp_path) not in shown


@pytest.mark.parametrize("name", ["hubspot", "salesforce", "pipedrive"])
def test_an_imported_crm_export_is_read_once_for_the_model_its_import_saved(name, tmp_path, monkeypatch, counted):
    """A CRM export imported with `leadcal import`: the server starts on the import's own model (its mapping
    of the export's columns), and the page waits on that very extraction."""
    export = ce.WRITERS[name](tmp_path / "files", n=800)
    db, store = tmp_path / f"{name}.duckdb", tmp_path / "store"
    assert leadcal(["import", *map(str, export.files), "--db", str(db), "--store", str(store)]) == 0
    monkeypatch.setenv("LEADCAL_DB", str(db))
    monkeypatch.setenv("LEADCAL_STORE", str(store))
    monkeypatch.delenv("LEADCAL_MODEL", raising=False)
    preload.start().join(timeout=120)
    assert counted == [str(db.resolve())]
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sidebar_model").value == name
    assert counted == [str(db.resolve())]
