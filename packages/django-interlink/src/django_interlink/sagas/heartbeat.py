"""The heartbeat: a saga's lease kept while its steps run, and a step stopped once it is lost.

One attempt can wait on its calls longer than the lease lasts, so while the saga runs a daemon
thread (one per run, not per step) renews the lease every LEASE/3 with the store's lease-guarded
UPDATE, on a connection of its own. An UPDATE matching no row means another worker holds the
saga: `check`, the guard the runner runs before each of the step's calls (call_guards.py), then
raises SagaLeaseLost. A call in flight is
not cut short; the step stops before its next one. Where no thread can help, `check` renews
before every call instead. Either way a call starts with at least LEASE - LEASE/3 of lease ahead
of it: the figure check W060 holds each service's slowest call to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Self

from django.db import DatabaseError, connection, connections

from ..exceptions import SagaLeaseLost

__all__ = ["BEATS_PER_LEASE", "Heartbeat", "can_beat_in_background", "period"]

logger = logging.getLogger(__name__)

BEATS_PER_LEASE = 3


def period(lease_seconds: float) -> float:
    """Seconds between two renewals: one may fail and the next still comes before the lease ends."""
    return lease_seconds / BEATS_PER_LEASE


def can_beat_in_background() -> bool:
    """Whether a thread with a connection of its own can renew the lease of the step here: not
    while this connection is in a transaction (a caller's or a test's; no other connection sees
    its uncommitted rows), nor on SQLite (one writer at a time, whole database locked)."""
    return connection.vendor != "sqlite" and not connection.in_atomic_block


class Heartbeat:
    """Keeps one saga's lease while the block runs; `check()` raises once it is lost.

    `renew` is the store's renewal: True when it extended the lease, False when another worker
    holds it. `background` (default: `can_beat_in_background()`) chooses the thread.
    """

    def __init__(
        self,
        renew: Callable[[], bool],
        lease_seconds: float,
        *,
        saga_id: str,
        background: bool | None = None,
    ) -> None:
        self._renew = renew
        self.saga_id = saga_id
        self.background = can_beat_in_background() if background is None else background
        # Without a thread nobody renews between calls, so every call renews first.
        self.period = period(lease_seconds) if self.background else 0.0
        self.lost = False
        self.renewed_at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.renewed_at = time.monotonic()  # the store wrote the lease as the attempt began
        if self.background:
            self._thread = threading.Thread(
                target=self._beat, name=f"saga-heartbeat:{self.saga_id}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def written(self) -> None:
        """The store has just written the lease itself (a step's attempt began)."""
        self.renewed_at = time.monotonic()

    def check(self) -> None:
        """Before each call: renew the lease here if the heartbeat is late (or there is none),
        and raise SagaLeaseLost once another worker holds it."""
        if not self.lost and time.monotonic() - self.renewed_at >= self.period:
            self.renew()
        if self.lost:
            raise SagaLeaseLost(operation=self.saga_id)

    def renew(self) -> None:
        started = time.monotonic()  # the new lease runs from (about) here
        if self._renew():
            self.renewed_at = started
        else:
            self.lost = True

    def _beat(self) -> None:
        try:
            while not self.lost and not self._stop.wait(self.period):
                try:
                    self.renew()
                except DatabaseError as exc:
                    # The next beat tries again on a new connection; if the heartbeat stays
                    # late, `check` renews on the step's own connection before the next call.
                    logger.warning("saga %s: lease not renewed: %s", self.saga_id, exc)
                    connection.close()
            if self.lost:
                logger.warning(
                    "saga %s: lease taken; the step stops before its next call", self.saga_id
                )
        finally:
            connections.close_all()  # this thread's own connections only
