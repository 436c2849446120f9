"""base.memory.mapped_zeros: large arrays mapped in at once, same values and types as np.zeros."""

import mmap

import numpy as np
import pytest

from scoring.base import memory
from scoring.base.memory import MAPPED_MIN_BYTES, mapped_zeros


def _mapped(a) -> bool:
    """Whether the array's memory is an mmap (through its views and buffer)."""
    owner = a
    while owner is not None:
        if isinstance(owner, mmap.mmap):
            return True
        owner = getattr(owner, "base", None) if isinstance(owner, np.ndarray) else getattr(owner, "obj", None)
    return False


@pytest.mark.parametrize("dtype", [np.float64, np.int8, np.int16])
def test_a_large_array_is_mapped_zeros_and_writable(dtype):
    n = MAPPED_MIN_BYTES // np.dtype(dtype).itemsize + 3
    a = mapped_zeros(n, dtype)
    assert a.shape == (n,) and a.dtype == np.dtype(dtype)
    assert _mapped(a)
    assert a.flags.writeable and a.flags.c_contiguous and a.flags.aligned  # numba sees the type np.zeros has
    assert not a.any()
    a[-1] = 7
    assert a[-1] == 7 and a.sum() == 7


def test_a_shape_tuple_and_a_small_array():
    a = mapped_zeros((2, MAPPED_MIN_BYTES // 16 + 1))
    assert a.shape == (2, MAPPED_MIN_BYTES // 16 + 1) and a.flags.c_contiguous and not a.any()
    small = mapped_zeros(10, np.int8)  # below the line: NumPy's allocator
    assert _mapped(a) and not _mapped(small) and small.tolist() == [0] * 10
    assert mapped_zeros(0).shape == (0,)


def test_without_map_populate_it_is_numpy_zeros(monkeypatch):
    monkeypatch.setattr(memory, "_POPULATE", None)
    a = mapped_zeros(MAPPED_MIN_BYTES)
    assert not _mapped(a) and not a.any()


def test_the_mapping_lives_as_long_as_the_array():
    a = mapped_zeros(MAPPED_MIN_BYTES // 8 * 2)
    view = a[10:20]
    del a
    view[:] = 1.5  # still mapped: the view keeps the array, the array its mapping
    assert view.sum() == 15.0
