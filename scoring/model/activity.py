"""One activity per lead, kept sparse: the leads where it is not zero, and its value there.

An engagement rule gives ``points x activity``, which is 0 where the activity is 0, and
most leads have none of a given activity (in the demo 2.3 of 10 activities per lead are
non-zero). Dense, ten activities were 760 MB at 10M leads, and a decay change built ten
more; sparse they are about a third of that, and a scoring pass touches only the leads
an activity moves (the compiled loops in ``scoring.kernels`` take ``rows`` and ``values``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from .row_lookup import RowLookup, build_lookup

_LOOKUP_LOCK = threading.Lock()


def row_dtype(n: int) -> np.dtype:
    """The integer type of lead positions: int32 while it fits (half the memory of int64)."""
    return np.dtype(np.int32 if n < 2**31 else np.int64)


@dataclass(frozen=True, eq=False)
class Activity:
    """The non-zero entries of one activity over ``n`` leads (read-only arrays)."""

    rows: np.ndarray
    """Sorted positions of the leads with a non-zero value (``row_dtype(n)``)."""
    values: np.ndarray
    """float64, finite, non-zero: the activity of those leads."""
    n: int
    _lookup: list = field(default_factory=list, repr=False)
    """The ``RowLookup``, once built (``lookup``)."""

    def __post_init__(self) -> None:
        if self.rows.shape != self.values.shape:
            raise ValueError(f"activity: {self.rows.size} rows but {self.values.size} values")
        for a in (self.rows, self.values):
            a.setflags(write=False)  # shared by the app's sessions and by derived feature sets

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "Activity":
        """The sparse form of one value per lead. NaN counts as 0 and +-inf as the largest
        float, as ``np.nan_to_num`` does (what an activity column always meant)."""
        dense = np.asarray(dense, dtype=np.float64)
        if not np.isfinite(dense).all():
            dense = np.nan_to_num(dense, nan=0.0)
        rows = np.flatnonzero(dense).astype(row_dtype(dense.size))
        return cls(rows, dense[rows], dense.size)

    def dense(self) -> np.ndarray:
        """One float per lead (a new array): for analysis pages, not for the scoring loops."""
        out = np.zeros(self.n)
        out[self.rows] = self.values
        return out

    def subset(self, mask: np.ndarray, position: np.ndarray) -> "Activity":
        """The leads where ``mask`` is true; ``position`` is ``cumsum(mask) - 1`` (computed once for many)."""
        keep = mask[self.rows]
        rows = position[self.rows[keep]].astype(self.rows.dtype)
        return Activity(rows, self.values[keep], int(position[-1]) + 1 if position.size else 0)

    def lookup(self) -> RowLookup:
        """Where each lead is in ``rows`` (``row_lookup``), built on first use and kept: the
        compiled loops that read some leads' activities take it."""
        with _LOOKUP_LOCK:
            if not self._lookup:
                self._lookup.append(build_lookup(self.rows, self.n))
            return self._lookup[0]

    @property
    def nbytes(self) -> int:
        """Memory held by the two arrays."""
        return self.rows.nbytes + self.values.nbytes
