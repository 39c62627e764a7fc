"""Crash points of the consumers: named places where a test may make the process die.

`crash_point(name)` SIGKILLs this process when the environment variable EVENTS_CRASH_AT names
the point (the window's `window:before_commit`: handlers done, nothing committed or acked), which
is how the window tests prove that a crash there redelivers every message and applies each once.
The mechanism is django_interlink/crash.py's.
"""

from __future__ import annotations

import logging

from ..crash import CrashPoints

__all__ = ["CRASH_ENV", "crash_point"]

CRASH_ENV = "EVENTS_CRASH_AT"

_points = CrashPoints(CRASH_ENV, "events", logging.getLogger(__name__))

crash_point = _points.crash_point
