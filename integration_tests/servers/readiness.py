"""Waiting for a server we started to answer, whichever way it was started."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from .endpoint import ServerStartError


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `predicate` until true; ServerStartError on timeout or when `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        if alive is not None and not alive():
            raise ServerStartError(f"{what}: the process exited while starting")
        time.sleep(interval)
    raise ServerStartError(f"{what}: not ready after {timeout:.0f} s")
