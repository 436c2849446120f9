"""A page's widget by key in AppTest, as the browser has it.

A slider move on the Calibrate page reruns only the results fragment (``ui.rerun_scope``): the browser
keeps the controls it has, but AppTest's tree after that run holds only the fragment's elements. So a
control missing from the tree is looked for again after a plain run of the page (no change: what the
browser shows).
"""

from __future__ import annotations


def control(at, kind: str, key: str):
    """The ``kind`` widget (``"slider"``, ``"number_input"``, ...) with ``key``."""
    found = [e for e in getattr(at, kind) if getattr(e, "key", None) == key]
    if not found:
        at.run()
        assert not at.exception, at.exception
        found = [e for e in getattr(at, kind) if getattr(e, "key", None) == key]
    assert found, f"no {kind} with key {key!r}"
    return found[0]
