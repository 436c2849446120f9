"""Compiled single-pass loops (numba) for what numpy can only do in several passes.

A slider move changes the scores of some leads; AUC and KS need every mature score in
order. numpy has no merge: keeping a sorted array up to date costs a binary search per
changed value, a boolean mask, a concatenation and a sort of the runs, and AUC/KS a
binary search per converted lead, each a full pass over memory (at 10M leads these were
most of a points move). Here each is one pass, with the same IEEE arithmetic as numpy
(no fastmath), so results are bit for bit those of the numpy formulation they replace
(checked in tests/test_kernels.py against that formulation, scikit-learn and scipy).

Compiled on first use and cached next to this file (``cache=True``); the app warms them
up when features are loaded.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def merge_replace(values: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Sorted ``values`` without one occurrence of each of sorted ``old``, with sorted ``new`` merged in."""
    n, k, m = values.size, old.size, new.size
    out = np.empty(n - k + m, dtype=values.dtype)
    j = 0  # next old value to take out
    l = 0  # next new value to merge in
    o = 0
    for i in range(n):
        v = values[i]
        if j < k and old[j] == v:
            j += 1
            continue
        while l < m and new[l] < v:
            out[o] = new[l]
            o += 1
            l += 1
        out[o] = v
        o += 1
    if j != k:
        raise ValueError("a value to take out is not in the sorted array")
    while l < m:
        out[o] = new[l]
        o += 1
        l += 1
    return out


@njit(cache=True, nogil=True)
def auc_ks(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:  # pragma: no cover
    """AUC (ties counted half) and KS of sorted converted (``pos``) and other (``neg``) scores.

    One walk over the distinct values of both: at each, the converted leads there count
    the other leads below them (and half of those tied), and the two cumulative shares
    are compared.
    """
    n_pos, n_neg = pos.size, neg.size
    i = 0
    j = 0
    below = 0  # sum over converted leads of other leads strictly below
    ties = 0  # ... and tied with them
    ks = 0.0
    while i < n_pos or j < n_neg:
        if j >= n_neg or (i < n_pos and pos[i] <= neg[j]):
            v = pos[i]
        else:
            v = neg[j]
        i0 = i
        while i < n_pos and pos[i] == v:
            i += 1
        j0 = j
        while j < n_neg and neg[j] == v:
            j += 1
        below += (i - i0) * j0
        ties += (i - i0) * (j - j0)
        gap = abs(i / n_pos - j / n_neg)
        if gap > ks:
            ks = gap
    return (below + 0.5 * ties) / (n_pos * n_neg), ks


@njit(cache=True, nogil=True)
def engagement_at(rows: np.ndarray, activities: tuple, points: np.ndarray, caps: np.ndarray,
                  is_column: np.ndarray, low: float, high: float) -> np.ndarray:  # pragma: no cover
    """The engagement part of some leads: each rule's capped points added in rule order from 0.

    The same operations in the same order as ``engine.rule_points_at`` + ``engine.part_sum``
    (multiply, limit to +-cap, add; then the part's cap), one lead at a time instead of one
    rule at a time, so it reads each lead's activities once. ``caps`` is inf for no cap;
    ``is_column`` marks activity columns, whose NaN counts as 0 (``np.nan_to_num``);
    ``low``/``high`` are the part's cap (-inf/inf when open).
    """
    big = np.finfo(np.float64).max
    out = np.empty(rows.size)
    for k in range(rows.size):
        row = rows[k]
        total = 0.0
        for r in range(len(activities)):
            a = activities[r][row]
            if is_column[r]:
                if a != a:
                    a = 0.0
                elif a == np.inf:
                    a = big
                elif a == -np.inf:
                    a = -big
            c = a * points[r]
            cap = caps[r]
            if cap != np.inf:
                c = max(c, -cap)
                c = min(c, cap)
            total += c
        out[k] = min(max(total, low), high)
    return out
