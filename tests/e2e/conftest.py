"""A real Streamlit server on generated demo data, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The system Chromium (no browser download is possible here)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("LEADCAL_E2E") == "required":
            pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("Chromium not installed (apt-get install chromium); CI installs it and requires these tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@contextlib.contextmanager
def start_app(env: dict, log_path: Path, *args: str, address: str = "127.0.0.1", wait: bool = True):
    """`streamlit run app.py` on a free port (extra command-line ``args``), stopped afterwards.

    Yields ``(url, process)``; ``url`` uses 127.0.0.1 whatever the bind address.
    """
    port = _free_port()
    log = open(log_path, "w+")
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", *args]
    if address is not None:
        command += ["--server.address", address]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while wait and time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            if wait:
                pytest.fail("the Streamlit server did not start within 60 s:\n" + log_path.read_text())
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory, browser):
    """`streamlit run app.py` on a free local port with its own demo data and store."""
    from scoring.data.demo import generate

    base = tmp_path_factory.mktemp("e2e")
    db = base / "demo.duckdb"
    generate(db, leads=20_000, seed=5)
    small = base / "small.duckdb"  # a second database to switch to
    generate(small, leads=3_000, seed=3)
    store = base / "store"
    env = {"LEADCAL_DB": str(db), "LEADCAL_STORE": str(store), "LEADCAL_USER": "e2e",
           "LEADCAL_DATA": str(base)}  # leadcal's data folder: the databases, and where imports are written
    log = base / "server.log"
    with start_app(env, log) as (url, _):
        yield {"url": url, "db": db, "small": small, "store": store, "log": log, "base": base}


STREAMLIT_PROBE = "/_stcore/"
"""Opened at a page's own URL, Streamlit's frontend first asks for ``<page>/_stcore/health`` and
``host-config`` (404) before the app's root (streamlit/streamlit#7074): its own, not the app's."""


class BrowserLog:
    """Console errors, uncaught page errors and requests that leave the machine, for one page."""

    def __init__(self, page, base_url: str):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.probes: list[str] = []
        self._base = base_url
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith(self._base) or url.startswith(("data:", "blob:", "about:"))):
            self.outside.append(url)

    def _response(self, response) -> None:
        if response.status == 404 and STREAMLIT_PROBE in response.url:
            self.probes.append(response.url)

    def app_errors(self) -> list[str]:
        """Console errors, leaving out the 404s of Streamlit's own probe when a page URL was opened."""
        probes = len(self.probes)
        return [e for e in self.errors if not (probes and "404" in e and "Failed to load resource" in e)]


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.log = BrowserLog(pg, server["url"])
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    """A screenshot of the whole page for people to look at (git-ignored).

    Streamlit scrolls inside its main area, so the window is made as tall as that area first.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 40), 8000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
