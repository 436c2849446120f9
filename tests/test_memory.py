"""base.memory.mapped_zeros: large arrays mapped in at once, same values and types as np.zeros."""

import mmap

import numpy as np
import pytest

from scoring.base import memory
from scoring.base.memory import MAPPED_MIN_BYTES, mapped_zeros, owns_memory


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


def test_only_an_array_alone_on_its_memory_can_be_recycled():
    """rescore._keep_spare recycles arrays that own their memory; a view of one must not count."""
    a = mapped_zeros(MAPPED_MIN_BYTES // 8 + 1)
    assert owns_memory(a) and owns_memory(np.zeros(10))
    whole = a[:]  # a view refers to the array itself: rescore._recycle sees it in the reference count
    assert whole.base is a and not owns_memory(whole) and owns_memory(a)
    other = np.ndarray(a.shape, a.dtype, buffer=a.base)  # another array made on the same mapping
    assert not owns_memory(a) and not owns_memory(other)
    del other
    assert owns_memory(a)
    assert not owns_memory(a[1:]) and not owns_memory(np.zeros(10)[1:])
    assert not owns_memory(mapped_zeros((2, MAPPED_MIN_BYTES // 16 + 1))[0])


def test_a_mapped_spare_is_kept_and_taken_again():
    """The pool of spare arrays takes mapped arrays (10M-lead moves reuse their memory)."""
    from types import SimpleNamespace

    from scoring.model.rescore import _keep_spare, _take

    features = SimpleNamespace(cache={})
    n = MAPPED_MIN_BYTES // 8 + 1
    spare = mapped_zeros(n)
    spare[:] = 3.0
    _keep_spare(features, spare)
    taken = _take(features, shape=(n,))
    assert taken is spare and taken.flags.writeable
    fresh = _take(features, shape=(n,))  # the pool is empty again: a new zeroed array
    assert fresh is not spare and not fresh.any()
