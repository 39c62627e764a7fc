"""What happens to a received message: decode, validate, run each handler once, decide its fate.

The exception a handler raises steers the outcome (FastStream's Ack/Nack/Reject, as types):

* returns normally                  -> ACK (the effect and its inbox row are committed)
* `PermanentHandlerError`,
  `EventContractViolation`          -> DEAD: dead-lettered at once, retrying cannot help
* `RetryableHandlerError` or any
  other exception                   -> RETRY after a backoff, DEAD once MAX_DELIVERIES is reached

A message is never dropped and never acknowledged as a success unless every handler succeeded.
The handlers come from a `HandlerRegistry` (handlers.py), each run through the inbox (inbox.py);
the backends (memory, RabbitMQ, Redis) only carry out the `Outcome`.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import EventContractViolation, PermanentHandlerError, ServiceError
from ..request_id import bind_request_id
from .contract import validate_body
from .envelope import Envelope
from .handlers import HandlerRegistry
from .inbox import inbox_run

logger = logging.getLogger("microservices.events.consumer")

# A retry waits RETRY_BACKOFF * 2 ** (delivery - 1) seconds, at most this long.
MAX_BACKOFF = 30.0


class Outcome(enum.Enum):
    ACK = "ack"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    envelope: Envelope | None = None
    reason: str = ""
    # Seconds to wait before the message is offered again (RETRY only).
    delay: float = 0.0


def retry_delay(delivery_count: int, *, base: float | None = None) -> float:
    """Seconds before delivery `delivery_count + 1`; `base` is RETRY_BACKOFF unless given (a
    bus built with its own settings, such as the RabbitMQ retry queues' TTLs)."""
    if base is None:
        base = float(ms_settings.EVENT_BUS["RETRY_BACKOFF"])
    return exponential_backoff(delivery_count, base=base, cap=MAX_BACKOFF)


class Dispatcher:
    """Runs the registered handlers for one message and says what to do with it."""

    def __init__(self, registry: HandlerRegistry, *, max_deliveries: int | None = None) -> None:
        self.registry = registry
        self.max_deliveries = int(max_deliveries or ms_settings.EVENT_BUS["MAX_DELIVERIES"])

    def dispatch(self, body: bytes, *, delivery_count: int = 1) -> Result:
        """Decide the fate of one message; `delivery_count` is 1 on its first delivery."""
        try:
            envelope = validate_body(body)
        except EventContractViolation as exc:
            logger.warning("dead-lettering a message that breaks the contract: %s", exc.message)
            return Result(Outcome.DEAD, reason=f"contract: {exc.message}")
        handlers = self.registry.handlers_for(envelope.event_type)
        log = logging.LoggerAdapter(logger, envelope.log_context)
        if not handlers:
            log.warning("no handler for %s: dead-lettered", envelope.event_type)
            return Result(Outcome.DEAD, envelope, reason=f"no handler for {envelope.event_type}")
        with bind_request_id(envelope.correlation_id):
            for handler in handlers:
                try:
                    if handler.use_inbox:
                        ran = inbox_run(envelope=envelope, handler=handler)
                    else:
                        handler.func(envelope)
                        ran = True
                except (PermanentHandlerError, EventContractViolation) as exc:
                    log.error(
                        "%s rejected event %s (correlation %s): %s; dead-lettered",
                        handler.name,
                        envelope.event_id,
                        envelope.correlation_id,
                        exc,
                    )
                    return Result(Outcome.DEAD, envelope, reason=f"{handler.name}: {exc}")
                except Exception as exc:
                    reason = f"{handler.name}: {type(exc).__name__}: {exc}"
                    if delivery_count >= self.max_deliveries:
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
                log.debug(
                    "%s %s event %s (correlation %s)",
                    handler.name,
                    "handled" if ran else "already handled",
                    envelope.event_id,
                    envelope.correlation_id,
                )
        return Result(Outcome.ACK, envelope)
