"""Crash points of the consumers: named places where a test may make the process die.

`crash_point(name)` SIGKILLs this process when the environment variable EVENTS_CRASH_AT names
the point (the window's `window:before_commit`: handlers done, nothing committed or acked), which
is how the window tests prove that a crash there redelivers every message and applies each once.
"""

from __future__ import annotations

import logging
import os
import signal

logger = logging.getLogger(__name__)

CRASH_ENV = "EVENTS_CRASH_AT"


def crash_point(name: str) -> None:
    """SIGKILL this process if EVENTS_CRASH_AT equals `name`; nothing otherwise."""
    if os.environ.get(CRASH_ENV) == name:
        logger.warning("events crash point %s reached: killing pid %s", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
