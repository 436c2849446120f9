"""Named steps of a write where a test can kill leadcal, as a power cut or `kill -9` would.

``LEADCAL_CRASH_AT=save:linked leadcal configs save ...`` ends the process at once
(``os._exit``: no clean-up, no ``finally``) right after that step. The kill tests in
``tests/test_atomicity.py`` run every step of save, approve and export this way and check
that the store then holds the whole operation or none of it.
"""

from __future__ import annotations

import os

CRASH_ENV = "LEADCAL_CRASH_AT"
CRASH_EXIT = 86
"""Exit status of a process ended at a crash point."""


def crash_point(step: str) -> None:
    """End the process now, without clean-up, when ``$LEADCAL_CRASH_AT`` names this step."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(CRASH_EXIT)
