"""Crash points: named places where a test may make this process die, to prove what survives.

One `CrashPoints` serves an area (the saga engine, the event consumers): its code calls
`crash_point(name)` at each point, and the installed hook decides what happens there. The
default hook SIGKILLs the process when the area's environment variable names the point, which
is how the crash tests kill a child process; `installed(hook)` swaps in another for a block
(raising instead, to carry on in-process). The hook is process-wide, like the signal it stands
for.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["CrashHook", "CrashPoints"]

CrashHook = Callable[[str], None]


class CrashPoints:
    """The crash points of one area: `env` names the point to die at, `label` the area in
    the log line written just before."""

    def __init__(self, env: str, label: str, logger: logging.Logger) -> None:
        self.env = env
        self.label = label
        self.logger = logger
        self._hook: CrashHook = self.kill_when_named

    def kill_when_named(self, name: str) -> None:
        """The default hook: SIGKILL this process if the environment variable equals `name`."""
        wanted = os.environ.get(self.env)
        if wanted and wanted == name:
            self.logger.warning(
                "%s crash point %s reached: killing pid %s", self.label, name, os.getpid()
            )
            os.kill(os.getpid(), signal.SIGKILL)

    def crash_point(self, name: str) -> None:
        """The code reached the point `name`: let the installed hook decide what happens."""
        self._hook(name)

    @contextmanager
    def installed(self, hook: CrashHook) -> Iterator[None]:
        """Use `hook` at every crash point for the duration of the block, then the previous one."""
        previous, self._hook = self._hook, hook
        try:
            yield
        finally:
            self._hook = previous
