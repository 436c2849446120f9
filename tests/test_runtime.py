"""The app's NumPy memory setting: huge pages off unless the user chose."""

from __future__ import annotations

from numpy._core.multiarray import _set_madvise_hugepage

from scoring.base.runtime import tune_numpy_memory


def test_huge_pages_off_by_default(monkeypatch):
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    before = _set_madvise_hugepage(True)
    try:
        assert tune_numpy_memory() is True
        assert _set_madvise_hugepage(True) is False  # the previous setting was off
    finally:
        _set_madvise_hugepage(before)


def test_the_users_choice_wins(monkeypatch):
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    before = _set_madvise_hugepage(True)
    try:
        assert tune_numpy_memory() is False
        assert _set_madvise_hugepage(True) is True  # left on
    finally:
        _set_madvise_hugepage(before)
