"""Crash points: named places where a test may make the saga's process die, to prove it resumes.

The runner calls `crash_point(name)` before and after every action and compensation
(`before_action:<step>`, `after_action:<step>`: the call returned, nothing is saved yet; the
same with `compensation`), and a step may add its own (`StepContext.crash_point`, named
`<direction>:<step>:<name>`). What happens there is up to the installed hook. The default one
SIGKILLs the process when the environment variable SAGA_CRASH_AT names the point, which is how
the crash tests kill a child process; `installed(hook)` swaps in another for a block (the demo
raises instead, to carry on in-process). The hook is process-wide, like the signal it stands for.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["CRASH_ENV", "crash_point", "installed", "kill_when_named"]

logger = logging.getLogger(__name__)

CRASH_ENV = "SAGA_CRASH_AT"

CrashHook = Callable[[str], None]


def kill_when_named(name: str) -> None:
    """The default hook: SIGKILL this process if SAGA_CRASH_AT equals `name`."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and wanted == name:
        logger.warning("saga crash point %s reached: killing pid %s", name, os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)


_hook: CrashHook = kill_when_named


def crash_point(name: str) -> None:
    """The engine reached the point `name`: let the installed hook decide what happens."""
    _hook(name)


@contextmanager
def installed(hook: CrashHook) -> Iterator[None]:
    """Use `hook` at every crash point for the duration of the block, then the previous one."""
    global _hook
    previous, _hook = _hook, hook
    try:
        yield
    finally:
        _hook = previous
