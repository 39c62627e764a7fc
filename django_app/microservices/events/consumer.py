"""What happens to a received message: decode, validate, run each handler once, decide its fate.

The exception a handler raises steers the outcome (FastStream's Ack/Nack/Reject, as types):

* returns normally                  -> ACK (the effect and its inbox row are committed)
* `PermanentHandlerError`,
  `EventContractViolation`          -> DEAD: dead-lettered at once, retrying cannot help
* `RetryableHandlerError` or any
  other exception                   -> RETRY after a backoff, DEAD once MAX_DELIVERIES is reached

A message is never dropped and never acknowledged as a success unless every handler succeeded.
The handlers come from a `HandlerRegistry` (handlers.py), each run through the inbox (inbox.py);
the backends (memory, RabbitMQ, Redis) only carry out the `Outcome`. `dispatch_window` decides
a window of messages in one transaction, one savepoint per message (CONSUME_WINDOW).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import EventContractViolation, PermanentHandlerError, ServiceError
from ..request_id import bind_request_id
from .contract import validate_body
from .crash import crash_point
from .envelope import Envelope
from .handlers import HandlerRegistry, RegisteredHandler
from .inbox import inbox_apply_here, inbox_run, inbox_seen

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
        decoded = self._decode(body)
        if isinstance(decoded, Result):
            return decoded
        envelope, handlers = decoded
        with bind_request_id(envelope.correlation_id):
            return self._run(envelope, handlers, delivery_count, None)

    def dispatch_window(
        self, messages: Sequence[tuple[bytes, int]], *, stop: threading.Event | None = None
    ) -> list[Result]:
        """Decide the fate of a window of (body, delivery_count) in ONE database transaction.

        Every `prepare` step runs first, outside it (no row lock held across a remote read);
        then each message runs in its own savepoint (its inbox rows and its handlers' effects
        together, no savepoint per handler), rolled back if it is not an ACK, so a failing
        message keeps nothing and the others keep everything. The caller settles the
        results after this returns, i.e. after the commit: a crash before it redelivers the
        whole window, and the inbox makes the replay harmless.

        Once `stop` is set (SIGTERM), the message in hand is finished and the window ends
        there: the results cover that prefix only, committed; the caller leaves the rest
        unsettled for the broker to hand on, as the per-message path leaves its prefetch.
        """
        results: list[Result | None] = [None] * len(messages)
        work: list[tuple[int, Envelope, list[RegisteredHandler], dict[str, Any]]] = []
        for index, (body, count) in enumerate(messages):
            decoded = self._decode(body)
            if isinstance(decoded, Result):
                results[index] = decoded
                continue
            envelope, handlers = decoded
            with bind_request_id(envelope.correlation_id):
                prepared = self._prepare(envelope, handlers, count)
            if isinstance(prepared, Result):
                results[index] = prepared
            else:
                work.append((index, envelope, handlers, prepared))
        decided = len(messages)
        with transaction.atomic():
            for index, envelope, handlers, prepared in work:
                if stop is not None and stop.is_set():
                    decided = index
                    break
                savepoint = transaction.savepoint()
                with bind_request_id(envelope.correlation_id):
                    result = self._run(envelope, handlers, messages[index][1], prepared)
                # An ACK's savepoint is not released: a RELEASE is one more round trip, and a
                # later ROLLBACK TO undoes only what followed its own savepoint, so the
                # messages before a failing one keep their work; COMMIT ends them all.
                if result.outcome is not Outcome.ACK:
                    transaction.savepoint_rollback(savepoint)
                results[index] = result
            crash_point("window:before_commit")
        return [result for result in results[:decided] if result is not None]

    def _decode(self, body: bytes) -> tuple[Envelope, list[RegisteredHandler]] | Result:
        """The envelope and its handlers, or the DEAD result of a message nobody can handle."""
        try:
            envelope = validate_body(body)
        except EventContractViolation as exc:
            logger.warning("dead-lettering a message that breaks the contract: %s", exc.message)
            return Result(Outcome.DEAD, reason=f"contract: {exc.message}")
        handlers = self.registry.handlers_for(envelope.event_type)
        if not handlers:
            log = logging.LoggerAdapter(logger, envelope.log_context)
            log.warning("no handler for %s: dead-lettered", envelope.event_type)
            return Result(Outcome.DEAD, envelope, reason=f"no handler for {envelope.event_type}")
        return envelope, handlers

    def _prepare(
        self, envelope: Envelope, handlers: list[RegisteredHandler], delivery_count: int
    ) -> dict[str, Any] | Result:
        """Run the `prepare` steps of the handlers not yet applied: what each returned, by
        handler name, or the Result of the first that failed."""
        prepared: dict[str, Any] = {}
        for handler in handlers:
            if handler.prepare is None:
                continue
            if inbox_seen(event_id=envelope.event_id, handler_name=handler.name):
                continue
            try:
                prepared[handler.name] = handler.prepare(envelope)
            except Exception as exc:
                return self._failed(exc, handler, envelope, delivery_count)
        return prepared

    def _run(
        self,
        envelope: Envelope,
        handlers: list[RegisteredHandler],
        delivery_count: int,
        prepared: dict[str, Any] | None,
    ) -> Result:
        """Run the handlers in order; `prepared` holds their prepare results (window mode),
        None to let the inbox run each prepare step itself (one message at a time)."""
        log = logging.LoggerAdapter(logger, envelope.log_context)
        for handler in handlers:
            try:
                if not handler.use_inbox:
                    handler.func(envelope)
                    ran = True
                elif prepared is None:
                    ran = inbox_run(envelope=envelope, handler=handler)
                elif handler.prepare is not None and handler.name not in prepared:
                    ran = False  # found in the inbox before its prepare step
                else:
                    # the message's savepoint (dispatch_window) holds its row and effect
                    ran = inbox_apply_here(
                        envelope=envelope, handler=handler, prepared=prepared.get(handler.name)
                    )
            except Exception as exc:
                return self._failed(exc, handler, envelope, delivery_count)
            log.debug(
                "%s %s event %s (correlation %s)",
                handler.name,
                "handled" if ran else "already handled",
                envelope.event_id,
                envelope.correlation_id,
            )
        return Result(Outcome.ACK, envelope)

    def _failed(
        self, exc: Exception, handler: RegisteredHandler, envelope: Envelope, delivery_count: int
    ) -> Result:
        """The outcome a handler's exception steers its message to (the table above)."""
        log = logging.LoggerAdapter(logger, envelope.log_context)
        if isinstance(exc, PermanentHandlerError | EventContractViolation):
            log.error(
                "%s rejected event %s (correlation %s): %s; dead-lettered",
                handler.name,
                envelope.event_id,
                envelope.correlation_id,
                exc,
            )
            return Result(Outcome.DEAD, envelope, reason=f"{handler.name}: {exc}")
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
