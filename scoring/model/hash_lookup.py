"""Where each of many 64-bit hashes sits among a sorted set of them, in linear time.

The account key read after the first view (``scoring.data.later.read_later``) gets each lead's
stored text as a hash and looks it up among the hashes of the column's distinct texts. numpy's
``searchsorted`` of 10M hashes into 3.5M took 12 s on this project's 2-core AMD VM (a cache miss
per step of each binary search); hashes are uniform, so their top bits index a table of where
each run of them starts, and a lookup reads one or two entries.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def hash_positions(keys: np.ndarray, queries: np.ndarray, out: np.ndarray) -> bool:  # pragma: no cover
    """Each query's position in ``keys`` (sorted uint64, no two alike) written to ``out`` (int64), -1 where
    absent; False when some query is absent."""
    bits = 1
    while (1 << bits) < keys.size and bits < 26:
        bits += 1
    shift = np.uint64(64 - bits)
    starts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for k in keys:
        starts[(k >> shift) + np.uint64(1)] += 1
    for b in range(1 << bits):
        starts[b + 1] += starts[b]
    found = True
    for i in range(queries.size):
        q = queries[i]
        b = q >> shift
        at = -1
        for j in range(starts[b], starts[b + np.uint64(1)]):
            if keys[j] == q:
                at = j
                break
        out[i] = at
        if at < 0:
            found = False
    return found
