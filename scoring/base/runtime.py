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

import os


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
