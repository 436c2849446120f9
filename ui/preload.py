"""What the server starts before any browser connects: the first page's modules, the compiled
loops, the reading of the database the first page will show, and its approved model's view.

Streamlit runs the app's script only when a browser session connects: a start used to spend
~3 s on the server's start, the browser's loading of the page and the script's imports before
the first query (10M leads, this 2-core machine). ``app.py`` is also the server's ASGI app
(``streamlit run app.py`` finds its ``app``), whose start-up hook runs this in a thread: by the
time the page asks for the data, the same job (``ui.data.start_loading``) is already reading it,
and a restart's disk cache entry is already loaded; once read, the approved model is scored into
the caches the page asks (``_first_view``). Nothing here draws, and anything it meets (a missing
database, a broken config) is left for the page to report where the user sees it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scoring.model.config import ScoringConfig

LOG = logging.getLogger("leadcal.preload")
NAME = "leadcal-preload"


class _NoPageHere(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning from this thread: it asks the page's cached loaders,
    whose spinners look for a page to draw on, and there is none (nothing is drawn, nothing is wrong)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread().name != NAME


_FILTER = _NoPageHere()


def _preload() -> None:
    try:
        from . import data, session, sidebar  # what finding the data and starting its job needs (0.4 s)

        first = _start_loading(data, session, sidebar)
        from scoring.model.kernels import warm_up_in_background

        # after the job has started: the warm-up holds the interpreter lock much of its 0.6 s, which slowed the
        # imports above from 0.4 to 2.4 s when it ran first
        warm_up_in_background()
        from . import auth, calibrate_view  # noqa: F401  (the rest of the first page's modules)

        if first is not None:
            _first_view(data, *first)
    except Exception:  # noqa: BLE001  (the page meets it again and says what is wrong)
        LOG.debug("preload stopped", exc_info=True)


def _start_loading(data, session, sidebar) -> tuple | None:
    """Start reading the first page's data: the job, the database and the approved model it is for (None:
    nothing is read, or the page reads it itself)."""
    path = Path(session.initial_db())
    if not path.is_file() or data.demo_to_generate(path):
        return None  # the page generates the demo (missing or outdated), or says what is wrong, with a message
    config, _ = data.approved(sidebar.default_model(str(path), data.model_names()))
    job = data.start_loading(path, config)
    return None if job is None else (job, path, config)


def _first_view(data, job, path: Path, config: ScoringConfig) -> None:
    """The approved model's view of the first page, computed once its data is read, into the very caches the
    page asks (the sidebar's features, the Calibrate page's features and approved view with the meeting's
    default settings; a new session's draft is the approved model). On a restart at 10M leads that was ~1 s
    of the page's run, after the browser had loaded the page; now it is done while the browser loads it
    (``rescore.scored`` has the page wait for the scoring it finds under way, rather than score again)."""
    from scoring.analysis.calibrate import prepare_moves_soon
    from scoring.model.kernels import warm_up
    from scoring.model.kpis import DEFAULT_SQL_TARGET

    job.result()  # read (the calls below draw no progress bar: this is no page)
    data.features_for(path, config)
    features = data.features_beside(path, config, config)
    view = data.approved_view(path, features, config, None, DEFAULT_SQL_TARGET, None)
    warm_up(len(config.engagement))  # the first slider move's compiled loops ...
    prepare_moves_soon(features, view)  # ... and the memory its new scores go to


def start() -> threading.Thread:
    """Start ``_preload`` in a daemon thread (the reading itself runs in the job's own thread)."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_FILTER)
    thread = threading.Thread(target=_preload, name=NAME, daemon=True)
    thread.start()
    return thread


SHUTDOWN_WAIT_S = 30.0
"""How long the server's shutdown waits for a feature cache write under way (``ui.data.finish_writes``)."""


@asynccontextmanager
async def at_server_start(app: object) -> AsyncIterator[None]:
    """The ASGI app's lifespan: preload, then serve; on shutdown (Ctrl-C, SIGTERM) first finish a feature
    cache write under way, up to ``SHUTDOWN_WAIT_S``, so the next start finds the database's entry."""
    start()
    try:
        yield
    finally:
        await asyncio.to_thread(_finish_writes)


def _finish_writes() -> None:
    data = sys.modules.get("ui.data")  # not imported: nothing was read, nothing is being written
    if data is not None and not data.finish_writes(0.0):
        print(f"leadcal: finishing the feature cache write under way (up to {SHUTDOWN_WAIT_S:.0f} s)...",
              file=sys.stderr, flush=True)
        data.finish_writes(SHUTDOWN_WAIT_S)
