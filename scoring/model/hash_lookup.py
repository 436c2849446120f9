"""Where each of many 64-bit hashes sits among a set of them, in linear time.

The account key read after the first view (``scoring.data.later.read_later``) gets each lead's
stored text as a hash and looks it up among the hashes of the column's distinct texts. numpy's
``searchsorted`` of 10M hashes into 3.5M sorted ones took 12 s on this project's 2-core AMD VM
(a cache miss per step of each binary search), and sorting the 3.5M first 0.5-0.8 s; hashes are
uniform, so their top bits place each in a bucket (a counting pass) and a lookup reads one or two.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FOUND, ABSENT, SHARED = 0, 1, 2
"""What ``hash_positions`` tells: every query found; some query absent; two keys alike."""


@njit(cache=True, nogil=True)
def hash_positions(keys: np.ndarray, queries: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover
    """Each query's index in ``keys`` (uint64, any order) written to ``out`` (int64), -1 where absent.
    Returns ``FOUND``, ``ABSENT`` (some query is not a key) or ``SHARED`` (two keys are alike: ``out``
    is not written)."""
    bits = 1
    while (1 << bits) < keys.size and bits < 26:
        bits += 1
    shift = np.uint64(64 - bits)
    starts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for k in keys:
        starts[(k >> shift) + np.uint64(1)] += 1
    for b in range(1 << bits):
        starts[b + 1] += starts[b]
    cursor = starts[:-1].copy()
    in_bucket = np.empty(keys.size, dtype=np.int64)  # key indices, bucket by bucket
    for i in range(keys.size):
        b = keys[i] >> shift
        in_bucket[cursor[b]] = i
        cursor[b] += 1
    for b in range(1 << bits):  # a bucket holds one or two keys: compare them pairwise
        for x in range(starts[b], starts[b + 1]):
            for y in range(x + 1, starts[b + 1]):
                if keys[in_bucket[x]] == keys[in_bucket[y]]:
                    return 2
    result = 0
    for i in range(queries.size):
        q = queries[i]
        b = q >> shift
        at = -1
        for j in range(starts[b], starts[b + np.uint64(1)]):
            if keys[in_bucket[j]] == q:
                at = in_bucket[j]
                break
        out[i] = at
        if at < 0:
            result = 1
    return result
