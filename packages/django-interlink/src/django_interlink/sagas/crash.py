"""Crash points: named places where a test may make the saga's process die, to prove it resumes.

The runner calls `crash_point(name)` before and after every action and compensation
(`before_action:<step>`, `after_action:<step>`: the call returned, nothing is saved yet; the
same with `compensation`), and a step may add its own (`StepContext.crash_point`, named
`<direction>:<step>:<name>`). What happens there is up to the installed hook. The default one
SIGKILLs the process when the environment variable SAGA_CRASH_AT names the point, which is how
the crash tests kill a child process; `installed(hook)` swaps in another for a block (the demo
raises instead, to carry on in-process). The mechanism is django_interlink/crash.py's.
"""

from __future__ import annotations

import logging

from ..crash import CrashHook, CrashPoints

__all__ = ["CRASH_ENV", "CrashHook", "crash_point", "installed", "kill_when_named"]

CRASH_ENV = "SAGA_CRASH_AT"

_points = CrashPoints(CRASH_ENV, "saga", logging.getLogger(__name__))

kill_when_named = _points.kill_when_named
crash_point = _points.crash_point
installed = _points.installed
