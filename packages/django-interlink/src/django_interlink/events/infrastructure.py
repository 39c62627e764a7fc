"""Failures of our own infrastructure: no verdict on the message, and the breaker that waits.

    the database is unreachable      django.db.OperationalError, InterfaceError (while a probe
                                     on a fresh connection fails too)
    a dependency is down             ServiceConnectionError, ServiceTimeoutError,
                                     ServiceUnavailable, RegistryUnavailable, ServiceNotFound,
                                     BusUnavailable
    a handler says so                InfrastructureError

Such a failure does not count toward MAX_DELIVERIES. The dispatcher answers DEFER, the backend
gives the message back uncounted (held unacked on RabbitMQ, left pending on Redis), and the
consumer's `Breaker` stops taking messages: for a capped exponential backoff, and after a
database failure until the database answers a probe. A database error while the probe succeeds
(a deadlock, a statement timeout) is the message's own trouble and counts like any other.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import (
    BusUnavailable,
    InfrastructureError,
    PermanentHandlerError,
    RegistryUnavailable,
    ServiceConnectionError,
    ServiceNotFound,
    ServiceTimeoutError,
    ServiceUnavailable,
)

logger = logging.getLogger("django_interlink.events.consumer")

# The first wait for infrastructure that went away (a broker, the database); it doubles up to
# RECONNECT_BACKOFF_MAX.
RECONNECT_BACKOFF = 0.1

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    InfrastructureError,
    ServiceConnectionError,
    ServiceTimeoutError,
    ServiceUnavailable,
    RegistryUnavailable,
    ServiceNotFound,
    BusUnavailable,
)


class Failure(enum.Enum):
    HANDLER = "handler"  # the handler's own: retried with backoff, counted
    PERMANENT = "permanent"  # the handler's verdict: dead-lettered at once
    DATABASE = "database"  # our database: not counted, the consumer waits for it
    DEPENDENCY = "dependency"  # a service or broker we depend on: not counted, backoff


def classify(exc: BaseException) -> Failure:
    """Whose failure `exc` is (the table above), before asking the database itself."""
    if isinstance(exc, PermanentHandlerError):
        return Failure.PERMANENT
    if isinstance(exc, DATABASE_ERRORS):
        return Failure.DATABASE
    if isinstance(exc, DEPENDENCY_ERRORS):
        return Failure.DEPENDENCY
    return Failure.HANDLER


def reconnect_delay(attempt: int, cap: float) -> float:
    """Seconds before attempt number `attempt` to reach infrastructure that went away."""
    return exponential_backoff(attempt, base=RECONNECT_BACKOFF, cap=cap)


def database_answers(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Does the database answer `SELECT 1` on a fresh connection? The thread's own connection
    may be broken (a restart) or inside a transaction (a window), so it is not asked."""
    probe = connections.create_connection(alias)
    try:
        probe.ensure_connection()
        with probe.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS:
        return False
    finally:
        probe.close()
    return True


def reset_connections() -> None:
    """Close this thread's database connections (outside a transaction): one broken by a
    restart would fail the next message too; Django reconnects on the next query."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


class Breaker:
    """The consumer's breaker: open after an infrastructure failure, closed again once its
    backoff has passed and, after a database failure, the database answers `probe`. The next
    message then tries (half open); an ACK resets the backoff, another failure doubles it."""

    def __init__(
        self,
        *,
        cap: float | None = None,
        probe: Callable[[], bool] = database_answers,
        reset: Callable[[], None] = reset_connections,
    ) -> None:
        self.cap = float(ms_settings.EVENT_BUS["RECONNECT_BACKOFF_MAX"] if cap is None else cap)
        self.probe = probe
        self.reset = reset
        self.failures = 0  # consecutive infrastructure failures
        self.waiting_for_database = False
        self._until = 0.0
        self._since = 0.0

    @property
    def is_open(self) -> bool:
        return self.failures > 0

    def trip(self, failure: Failure, reason: str) -> float:
        """Open (or keep open) after `failure`; the seconds before the next try."""
        if not self.failures:
            self._since = time.monotonic()
        self.failures += 1
        if failure is Failure.DATABASE:
            self.waiting_for_database = True
            self.reset()
        delay = reconnect_delay(self.failures, self.cap)
        self._until = time.monotonic() + delay
        logger.warning(
            "infrastructure failure (%s, not counted): consumer paused %.2fs: %s",
            failure.value,
            delay,
            reason,
        )
        return delay

    def allows(self) -> bool:
        """May the consumer take the next message now? Probes the database when it is due."""
        if not self.failures:
            return True
        if time.monotonic() < self._until:
            return False
        if self.waiting_for_database:
            if not self.probe():
                self.failures += 1
                self._until = time.monotonic() + reconnect_delay(self.failures, self.cap)
                return False
            self.waiting_for_database = False
            self.reset()  # the connection the outage broke, before the next message uses it
            logger.warning(
                "database answers again after %.1fs: consumer resumes",
                time.monotonic() - self._since,
            )
        return True

    def succeeded(self) -> None:
        """A message went through: the infrastructure is back, the next failure starts over."""
        self.failures = 0

    def remaining(self) -> float:
        """Seconds until the next try is due (0 if it is)."""
        return max(0.0, self._until - time.monotonic())

    def wait(self, stop: threading.Event, pump: Callable[[float], None] | None = None) -> None:
        """Block until `allows()` or `stop`; `pump(seconds)` waits while keeping a broker
        connection alive (RabbitMQ's heartbeats), `stop.wait` otherwise."""
        while not stop.is_set() and not self.allows():
            pause = min(0.5, max(0.01, self.remaining()))
            if pump is None:
                stop.wait(pause)
            else:
                pump(pause)
