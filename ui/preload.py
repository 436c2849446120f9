"""What the server starts before any browser connects: the first page's modules, the compiled
loops, and the reading of the database the first page will show.

Streamlit runs the app's script only when a browser session connects: a start used to spend
~3 s on the server's start, the browser's loading of the page and the script's imports before
the first query (10M leads, this 2-core machine). ``app.py`` is also the server's ASGI app
(``streamlit run app.py`` finds its ``app``), whose start-up hook runs this in a thread: by the
time the page asks for the data, the same job (``ui.data.start_loading``) is already reading it,
and a restart's disk cache entry is already loaded. Nothing here draws, and anything it meets
(a missing database, a broken config) is left for the page to report where the user sees it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

LOG = logging.getLogger("leadcal.preload")


def _preload() -> None:
    try:
        from . import data, session, sidebar  # what finding the data and starting its job needs (0.4 s)

        _start_loading(data, session, sidebar)
        from scoring.model.kernels import warm_up_in_background

        # after the job has started: the warm-up holds the interpreter lock much of its 0.6 s, which slowed the
        # imports above from 0.4 to 2.4 s when it ran first
        warm_up_in_background()
        from . import auth, calibrate_view  # noqa: F401  (the rest of the first page's modules)
    except Exception:  # noqa: BLE001  (the page meets it again and says what is wrong)
        LOG.debug("preload stopped", exc_info=True)


def _start_loading(data, session, sidebar) -> None:
    path = Path(session.initial_db())
    if not path.is_file() or data.demo_to_generate(path):
        return  # the page generates the demo (missing or outdated), or says what is wrong, with a message
    config, _ = data.approved(sidebar.default_model(str(path), data.model_names()))
    data.start_loading(path, config)


def start() -> threading.Thread:
    """Start ``_preload`` in a daemon thread (the reading itself runs in the job's own thread)."""
    thread = threading.Thread(target=_preload, name="leadcal-preload", daemon=True)
    thread.start()
    return thread


@asynccontextmanager
async def at_server_start(app: object) -> AsyncIterator[None]:
    """The ASGI app's lifespan: preload, then serve."""
    start()
    yield
