"""Sorting scores in linear time where numpy's sort is slow.

A points move on a dense rule at 10M leads sorts ~9M new scores. numpy sorts floats
with vectorised code on some CPUs only: on this project's 2-core AMD benchmark VM a
5M-float sort took 255 ms (numpy's scalar sort), where the same numpy on an Intel VM
took ~40 ms. An LSD radix sort over the floats' bits takes 95 ms on the AMD VM on any
data, so scores are sorted by whichever of the two is faster on the CPU at hand
(timed once per process on a small sample: the result is the same either way).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from numba import njit

RADIX_MIN = 1 << 16
"""Below this many values numpy's sort is used whatever the CPU (the radix sort's 2k
counters cost more than they save)."""
_BITS = 8
_DIGITS = 8  # 8 x 8 bits cover the 64 of a float
"""Eight passes of 8 bits, not six of 11: 256 places to write to per pass stay in the CPU's caches where
2,048 did not (3.6M scores of a 10M dense move: 73 -> 50 ms; 727k: 9.5 -> 7.5 ms; 9 and 10 bits
51-54 ms, 7 bits 58 ms, on the AMD VM)."""
_SIGN = np.uint64(1 << 63)
_MASK = np.uint64((1 << _BITS) - 1)


@njit(cache=True, nogil=True, inline="always")
def _key(bits: np.uint64) -> np.uint64:  # pragma: no cover
    """A float's bits as an unsigned key in the floats' order (negatives: all bits flipped)."""
    return bits ^ ((np.uint64(0) - (bits >> np.uint64(63))) | _SIGN)


@njit(cache=True, nogil=True, inline="always")
def _bits(key: np.uint64) -> np.uint64:  # pragma: no cover
    """``_key`` undone."""
    return key ^ (((key >> np.uint64(63)) - np.uint64(1)) | _SIGN)


@njit(cache=True, nogil=True)
def radix_sort(a: np.ndarray, scratch: np.ndarray) -> bool:  # pragma: no cover
    """Sort float64 ``a`` in place through ``scratch`` (as long, any content); False, with ``a``
    untouched, when it holds a NaN (numpy puts NaNs last whatever their sign bit)."""
    n = a.size
    u = a.view(np.uint64)
    t = scratch[:n].view(np.uint64)
    counts = np.zeros((_DIGITS, 1 << _BITS), dtype=np.int64)
    for i in range(n):
        x = a[i]
        if x != x:
            return False
        k = _key(u[i])
        for d in range(_DIGITS):
            counts[d, (k >> np.uint64(_BITS * d)) & _MASK] += 1
    passes = np.empty(_DIGITS, dtype=np.int64)  # digits that differ between values: the others order nothing
    m = 0
    for d in range(_DIGITS):
        if counts[d].max() < n:
            passes[m] = d
            m += 1
    at = np.empty(1 << _BITS, dtype=np.int64)
    src, dst = u, t
    for p in range(m):
        d = passes[p]
        total = 0
        for b in range(1 << _BITS):
            at[b] = total
            total += counts[d, b]
        shift = np.uint64(_BITS * d)
        if p == 0 and p == m - 1:  # the floats' bits in, out and back (one loop each: no branch per value)
            for i in range(n):
                k = _key(src[i])
                j = (k >> shift) & _MASK
                dst[at[j]] = _bits(k)
                at[j] += 1
        elif p == 0:
            for i in range(n):
                k = _key(src[i])
                j = (k >> shift) & _MASK
                dst[at[j]] = k
                at[j] += 1
        elif p == m - 1:
            for i in range(n):
                k = src[i]
                j = (k >> shift) & _MASK
                dst[at[j]] = _bits(k)
                at[j] += 1
        else:
            for i in range(n):
                k = src[i]
                j = (k >> shift) & _MASK
                dst[at[j]] = k
                at[j] += 1
        src, dst = dst, src
    if m % 2 == 1:  # the last pass wrote into the scratch
        u[:] = t
    return True


_CHOICE: list[bool] = []
_CHOICE_LOCK = threading.Lock()


def radix_is_faster() -> bool:
    """Whether the radix sort beats numpy's on this CPU (timed once per process on 2**16 floats)."""
    with _CHOICE_LOCK:
        if not _CHOICE:
            sample = np.random.default_rng(0).random(RADIX_MIN) * 100.0
            scratch = np.empty_like(sample)
            radix_sort(sample.copy(), scratch)  # compiled or loaded before it is timed

            def best(sort) -> float:
                times = []
                for _ in range(3):
                    a = sample.copy()
                    start = time.perf_counter()
                    sort(a)
                    times.append(time.perf_counter() - start)
                return min(times)

            _CHOICE.append(best(lambda a: radix_sort(a, scratch)) < 0.8 * best(np.ndarray.sort))
        return _CHOICE[0]


def sort_scores(a: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """``a`` (float64, writable) sorted in place and returned; ``scratch``: memory of at least its
    size the radix sort may write (a new array when None)."""
    if a.size < RADIX_MIN or a.dtype != np.float64 or not a.flags.c_contiguous or not radix_is_faster():
        a.sort()
        return a
    if scratch is None or scratch.size < a.size or scratch.dtype != np.float64:
        scratch = np.empty_like(a)
    if not radix_sort(a, scratch):
        a.sort()
    return a
