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


def test_the_app_skips_streamlits_repl_check_and_that_skips_it(monkeypatch):
    """app.py marks Streamlit's "run it with streamlit run" warning as shown (its check walked inspect.stack():
    0.2-0.35 s of every start); the mark must still be what Streamlit reads, or the check runs again."""
    import ast

    import streamlit.delta_generator as delta_generator
    from streamlit import env_util

    from .conftest import ROOT

    sets = [node for node in ast.walk(ast.parse((ROOT / "app.py").read_text()))
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr ==
                                                    "_use_warning_has_been_displayed" for t in node.targets)]
    assert len(sets) == 1 and getattr(sets[0].value, "value", None) is True
    monkeypatch.setattr(env_util, "is_repl", lambda: (_ for _ in ()).throw(AssertionError("the stack was walked")))
    monkeypatch.setattr(delta_generator, "_use_warning_has_been_displayed", True)
    delta_generator._maybe_print_use_warning()  # skipped: is_repl not called
    monkeypatch.setattr(delta_generator, "_use_warning_has_been_displayed", False)
    try:
        delta_generator._maybe_print_use_warning()
    except AssertionError:
        pass  # not skipped without the mark: the mark is what makes the difference
    else:
        raise AssertionError("Streamlit no longer checks for a REPL here: app.py's mark is stale")
