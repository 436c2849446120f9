"""Category codes renumbered by where each value first appears among the ordered leads.

Extraction codes a categorical column by its dictionary (in no particular order); the features
number the values by first appearance in lead order instead (as Arrow's dictionary encoding of the
sorted leads did), keeping only values some kept lead holds. A GROUP BY ... ORDER BY
min(row) in DuckDB took 1.0 s for the 3.5M company names of 10M leads; one compiled pass
over the codes does it in tens of milliseconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def first_seen(codes: np.ndarray, n_values: int, renumbered: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The codes (0..``n_values`` - 1) in order of first appearance in ``codes``; each lead's new code (its
    value's place in that order, -1 for a negative code: missing) written into ``renumbered`` (int32)."""
    new = np.full(n_values, -1, dtype=np.int32)
    order = np.empty(n_values, dtype=np.int64)
    seen = 0
    for i in range(codes.size):
        code = codes[i]
        if code < 0:
            renumbered[i] = -1
            continue
        number = new[code]
        if number < 0:
            number = seen
            new[code] = seen
            order[seen] = code
            seen += 1
        renumbered[i] = number
    return order[:seen]
