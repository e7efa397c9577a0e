"""Named fault points for the reliability tests; armed only when CROSSCLAIM_TEST_HOOKS is on.

Production code names a point (`fault_point("sweep.after_claim")`) and nothing happens there unless
`arm_for_tests` armed it at start. Every fault a test can inject is listed here, in one place.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from app.settings import Settings

_armed: dict[str, Callable[[], None]] = {}


def _die() -> None:
    os._exit(9)  # a killed worker: no cleanup, no rollback beyond what the database does itself


# CROSSCLAIM_TEST_CRASH names the point at which the process dies (the crash-repair tests).
CRASHES: dict[str, str] = {"after_claim": "sweep.after_claim"}


def arm_for_tests(settings: Settings) -> None:
    """Arm the faults the environment asks for; without the test hooks setting, disarm everything."""
    _armed.clear()
    if not settings.test_hooks:
        return
    crash = CRASHES.get(os.environ.get("CROSSCLAIM_TEST_CRASH", ""))
    if crash:
        _armed[crash] = _die


def fault_point(name: str) -> None:
    """Run the fault armed at this point, if any (a dict look-up otherwise)."""
    action = _armed.get(name)
    if action is not None:
        action()
