"""Graceful shutdown of the long-running commands: SIGTERM or SIGINT sets an Event the loop checks.

The loop finishes the unit of work in hand (a message, a batch, a saga), then exits. The handler
only sets the Event: logging from a signal handler can deadlock on the logging lock.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(logger: logging.Logger, finishing: str) -> Iterator[threading.Event]:
    """Yield an Event set by SIGTERM/SIGINT; the previous handlers are restored on exit."""
    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            logger.info("signal %d: finished %s, exiting", received[0], finishing)
