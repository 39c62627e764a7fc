"""What the dispatcher tells a backend to do with a message, and which failure earns which.

ACK    every handler succeeded: settle it
RETRY  the handler's own failure: offer it again after `delay`, one delivery used up
DEAD   dead-lettered: its reason says why
DEFER  our infrastructure failed (infrastructure.py): give it back uncounted; the breaker
       holds the consumer until it may try again
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import EventContractViolation, ServiceError
from .envelope import Envelope
from .infrastructure import Breaker, Failure, classify

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

logger = logging.getLogger("django_interlink.events.consumer")

# A retry waits RETRY_BACKOFF * 2 ** (delivery - 1) seconds, at most this long.
MAX_BACKOFF = 30.0


class Outcome(enum.Enum):
    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"
    DEFER = "defer"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    envelope: Envelope | None = None
    reason: str = ""
    # Seconds to wait before the message is offered again (RETRY only).
    delay: float = 0.0
    # The span that decided it (its process span, a window's batch span): its settle's parent.
    span: SpanContext | None = None

    def settled_under(self, span: SpanContext) -> Result:
        """This result with `span` as its settle span's parent (what `dataclasses.replace` does,
        without its field-by-field introspection: once a message)."""
        return Result(self.outcome, self.envelope, self.reason, self.delay, span)


def retry_delay(delivery_count: int, *, base: float | None = None) -> float:
    """Seconds before delivery `delivery_count + 1`; `base` is RETRY_BACKOFF unless given (a
    bus built with its own settings, such as the RabbitMQ retry queues' TTLs)."""
    if base is None:
        base = float(ms_settings.EVENT_BUS["RETRY_BACKOFF"])
    return exponential_backoff(delivery_count, base=base, cap=MAX_BACKOFF)


def failure_result(
    exc: Exception,
    *,
    handler: str,
    envelope: Envelope,
    delivery_count: int,
    max_deliveries: int,
    breaker: Breaker,
) -> Result:
    """The outcome handler `handler`'s exception steers its message to (consumer.py's table)."""
    log = logging.LoggerAdapter(logger, envelope.log_context)
    failure = classify(exc)
    if isinstance(exc, EventContractViolation):
        failure = Failure.PERMANENT
    if failure is Failure.DATABASE and breaker.probe():
        failure = Failure.HANDLER  # the database answers: a deadlock, a timeout of this message
    reason = f"{handler}: {type(exc).__name__}: {exc}"
    if failure is Failure.PERMANENT:
        log.error(
            "%s rejected event %s (correlation %s): %s; dead-lettered",
            handler,
            envelope.event_id,
            envelope.correlation_id,
            exc,
        )
        return Result(Outcome.DEAD, envelope, reason=f"{handler}: {exc}")
    if failure is not Failure.HANDLER:
        return Result(Outcome.DEFER, envelope, reason, delay=breaker.trip(failure, reason))
    if delivery_count >= max_deliveries:
        log.error(
            "event %s (correlation %s) failed %d times, dead-lettered: %s",
            envelope.event_id,
            envelope.correlation_id,
            delivery_count,
            reason,
        )
        return Result(Outcome.DEAD, envelope, reason=reason)
    delay = retry_delay(delivery_count)
    log.warning(
        "event %s (correlation %s) delivery %d failed, retry in %.2fs: %s",
        envelope.event_id,
        envelope.correlation_id,
        delivery_count,
        delay,
        reason,
        # expected failures without a traceback, anything else with one
        exc_info=not isinstance(exc, ServiceError),
    )
    return Result(Outcome.RETRY, envelope, reason=reason, delay=delay)
