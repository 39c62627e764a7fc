"""Waiting for a server we started to answer, whichever way it was started."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from .endpoint import ServerStartError
from .waiting import WaitTimeout, wait_until


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_ready(
    ready: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `ready()` until true; ServerStartError on timeout or as soon as `alive()` is false.

    A probe that raises counts as "not yet": a server half-way up fails in all sorts of ways.
    A process that died will not come up, so that ends the wait at once.
    """

    def answered() -> bool:
        with contextlib.suppress(Exception):
            if ready():
                return True
        if alive is not None and not alive():
            raise ServerStartError(f"{what}: the process exited while starting")
        return False

    try:
        wait_until(answered, timeout=timeout, interval=interval, what=what)
    except WaitTimeout as exc:
        raise ServerStartError(f"{what}: not ready after {timeout:.0f} s") from exc
