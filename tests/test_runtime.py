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


def test_quick_thread_switches_and_the_override(monkeypatch):
    import sys

    from scoring.base.runtime import SWITCH_INTERVAL, quick_thread_switches

    before = sys.getswitchinterval()
    try:
        monkeypatch.delenv("LEADCAL_SWITCH_INTERVAL", raising=False)
        sys.setswitchinterval(0.005)
        assert quick_thread_switches() is True and sys.getswitchinterval() == SWITCH_INTERVAL
        assert quick_thread_switches() is False  # already set
        monkeypatch.setenv("LEADCAL_SWITCH_INTERVAL", "0.002")
        assert quick_thread_switches() is True and sys.getswitchinterval() == 0.002
    finally:
        sys.setswitchinterval(before)


def test_long_lived_objects_are_frozen_once_without_a_collection(monkeypatch):
    import gc

    import scoring.base.runtime as runtime

    def collect(*_args):  # a collection over every object would hold up the first page's messages
        raise AssertionError("freeze_long_lived_objects ran a collection")

    monkeypatch.setattr(gc, "collect", collect)

    frozen_before = gc.get_freeze_count()
    was = runtime._FROZEN
    runtime._FROZEN = False
    try:
        assert runtime.freeze_long_lived_objects() is True
        assert gc.get_freeze_count() >= frozen_before and gc.get_freeze_count() > 0
        assert runtime.freeze_long_lived_objects() is False
    finally:
        runtime._FROZEN = was
        gc.unfreeze()
