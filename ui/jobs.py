"""Long work in a background thread, with progress the page can draw while it waits.

Streamlit replays every element a cached function drew, on every later cache hit, so a
progress bar cannot be drawn from inside ``st.cache_resource``. Instead the cached
function returns a ``Job`` that does the work in its own thread and records what it is
doing; the page (outside any cached function) draws a progress bar from it until it is
done. Sessions asking for the same work share one job, and a rerun (a click while it
waits) does not lose it: the next run finds the same job still going.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import streamlit as st

T = TypeVar("T")


class Job(Generic[T]):
    """One piece of work running in a daemon thread; its result, or the exception it raised."""

    def __init__(self, work: Callable[[Callable[[str, float], None]], T], name: str) -> None:
        self.message = "Starting..."
        self.fraction = 0.0
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _progress(self, message: str, fraction: float) -> None:
        self.message, self.fraction = message, max(0.0, min(1.0, float(fraction)))

    def _run(self, work: Callable[[Callable[[str, float], None]], T]) -> None:
        try:
            self._result = work(self._progress)
        except BaseException as exc:  # handed to the page that waits (raised there)
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def failed(self) -> bool:
        return self._done.is_set() and self._error is not None

    def result(self) -> T:
        """The result; raises the work's exception if it failed. Waits when not done."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def wait_with_progress(job: Job[T], title: str) -> T:
    """The job's result, with a progress bar saying what it is doing until it is done.

    Draws nothing at all when the job is already done (every rerun after the first). (While it waits,
    a new session's browser loads the results' code: ``ui.browser_warm_up``.)
    """
    if not job.done:
        bar = st.progress(job.fraction, text=f"{title} {job.message}")
        while not job._done.wait(0.25):
            bar.progress(job.fraction, text=f"{title} {job.message}")
        bar.empty()
    return job.result()

