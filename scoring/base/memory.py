"""Large arrays whose memory is mapped in when they are made, not page by page while written.

Fresh memory costs a page fault per 4 KB page on its first write. At 10M leads the first
view after a restart writes about 260 MB of new arrays (scores, bands, tiers, the sorted
class scores) and the fit part, and two threads writing one fresh array fault against each
other: the first rule of the fit part took 180 ms on each of two threads, where one thread
took 60 ms and the same pass over mapped memory 7 ms. ``mmap`` with ``MAP_POPULATE`` maps the
whole array in one call (80 MB: 19 ms, against 27 ms written page by page on one thread).
Where the flag is missing (not Linux) the arrays are ``np.empty`` as before.
"""

from __future__ import annotations

import mmap
import sys

import numpy as np

MAPPED_MIN_BYTES = 1 << 22
"""From this size (4 MB: half a million floats) an array is mapped in at once; smaller ones
come from NumPy's allocator, which reuses memory that is mapped already."""

_POPULATE = getattr(mmap, "MAP_POPULATE", None)


def mapped_zeros(shape: int | tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """A writable, C-contiguous array of zeros whose pages are all mapped in already.

    Anonymous memory is zero-filled by the kernel, so it serves both ``np.zeros`` and
    ``np.empty``; the array keeps its mapping alive and the mapping goes with it.
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if _POPULATE is None or nbytes < MAPPED_MIN_BYTES:
        return np.zeros(shape, dtype=dtype)
    buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _POPULATE)
    return np.ndarray(shape, dtype=dtype, buffer=buffer)  # its base is the mapping itself


def owns_memory(array: np.ndarray) -> bool:
    """Whether the array is the only array on its memory: NumPy's own, or a whole mapping from
    :func:`mapped_zeros`. Such an array can be recycled once nothing refers to it (a view, a
    slice or another array on the same memory would refer to it or to another base)."""
    base = array.base
    if base is None:
        return True
    # NumPy gives a view of a mapped array the mapping as its base too: the mapping must be
    # referred to by this array alone (its base, this name and getrefcount's argument)
    return (isinstance(base, mmap.mmap) and len(base) == array.nbytes and array.flags.c_contiguous
            and sys.getrefcount(base) <= 3)
