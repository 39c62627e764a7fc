"""What the embedded stack does in this process where the real one uses another: a kill that
raises instead of a SIGKILL, and a logger's records kept for the scene instead of printed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django_interlink.sagas import crash


@contextmanager
def captured_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """Keep a logger's records (DEBUG and up) for the scene to read, instead of stderr."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger(name)
    handler, saved = Keep(logging.DEBUG), (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


class ProcessKilled(BaseException):
    """Stands in for SIGKILL inside this process: a BaseException, so no `except Exception` in
    the engine catches it and nothing it would have saved after that point is saved."""


@contextmanager
def killed_at(point: str) -> Iterator[None]:
    """The engine's crash points (`SAGA_CRASH_AT` kills the process with SIGKILL) made to raise
    ProcessKilled instead, so the demo can carry on after the "crash"."""

    def kill_here(name: str) -> None:
        if name == point:
            raise ProcessKilled(name)

    with crash.installed(kill_here):
        yield
