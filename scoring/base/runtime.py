"""Process settings for long-running use of leadcal: the app and the benchmark set them.

NumPy asks the kernel for transparent huge pages on every large array
(``madvise(MADV_HUGEPAGE)``). With the kernel's default ``defrag=madvise`` a page fault on
such memory may compact memory synchronously first: re-scoring, which allocates a few
new arrays of one float per lead per slider move, then stalled for 0.6-0.7 s now and then
(measured at 10M leads: a points move took 0.8-1.7 s with huge pages, a steady
0.61-0.69 s without; see ``benchmarks/RESULTS.md``). Setting ``NUMPY_MADVISE_HUGEPAGE``
yourself (0 or 1) takes precedence.
"""

from __future__ import annotations

import gc
import os
import sys

_FROZEN = False


def tune_numpy_memory() -> bool:
    """Stop NumPy from requesting huge pages unless ``NUMPY_MADVISE_HUGEPAGE`` is set; True if changed."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # another NumPy layout: leave its default
        return False
    _set_madvise_hugepage(False)
    return True


def freeze_long_lived_objects() -> bool:
    """Once per process, right after the app's imports: move every object alive then (the
    modules, functions and classes of Streamlit, pandas, numba, plotly, ...: about 230,000)
    into the collector's permanent generation; True the first time.

    A full cycle collection walks every tracked object: with these it took 90 ms per run at
    any data size, and Streamlit ran one after every rerun (``runner.postScriptGC``, now off
    in ``.streamlit/config.toml``), holding the interpreter lock while the rerun's messages
    waited to be sent. No collection runs first: before any data is read the only garbage is
    what the imports left, and a collection here (0.17 s, after the first run as it was) kept
    the first page's last messages waiting at every restart. The objects stay alive as they
    would anyway; objects made later are collected as usual.
    """
    global _FROZEN
    if _FROZEN:
        return False
    _FROZEN = True
    gc.freeze()
    return True


SWITCH_INTERVAL = 0.0005
"""Seconds a thread holds Python's interpreter lock before another waiting thread gets it."""


def quick_thread_switches() -> bool:
    """Hand the interpreter lock over after 0.5 ms instead of Python's 5 ms; True if changed.

    Streamlit builds a rerun's elements on the script thread and sends each one from its
    event-loop thread: every hand-over waited up to the 5 ms default while the script
    thread kept computing, so the 50 messages of a slider move trickled out (measured in
    the browser benchmark, benchmarks/browser.py). ``LEADCAL_SWITCH_INTERVAL`` overrides it.
    """
    wanted = float(os.environ.get("LEADCAL_SWITCH_INTERVAL", SWITCH_INTERVAL))
    if sys.getswitchinterval() == wanted:
        return False
    sys.setswitchinterval(wanted)
    return True
