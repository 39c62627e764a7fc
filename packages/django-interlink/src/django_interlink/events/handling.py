"""One message's handlers at work: decode and validate it, run its handlers, judge a failure.

The `Dispatcher` (consumer.py) is built on this: it adds the window, the metrics and the spans.
A message that breaks the contract or that nobody handles is DEAD; each handler runs through the
inbox (inbox.py) unless it opted out; the exception a handler raises is turned into its `Result`
by outcomes.py's table, with the breaker told when our infrastructure failed.
"""

from __future__ import annotations

import logging
from typing import Any

from ..conf import ms_settings
from ..exceptions import EventContractViolation
from .contract import validate_body
from .envelope import Envelope
from .handlers import HandlerRegistry, RegisteredHandler
from .inbox import ClaimKey, claim_key, inbox_apply_here, inbox_run
from .infrastructure import Breaker
from .outcomes import Outcome, Result, failure_result

logger = logging.getLogger("django_interlink.events.consumer")


class Handling:
    """Decodes one message, runs its handlers and judges their failures, for the Dispatcher."""

    def __init__(
        self,
        registry: HandlerRegistry,
        *,
        max_deliveries: int | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.registry = registry
        self.max_deliveries = int(max_deliveries or ms_settings.EVENT_BUS["MAX_DELIVERIES"])
        # Opened by a DEFER; the backend waits on it before taking the next message.
        self.breaker = breaker if breaker is not None else Breaker()

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
        self,
        envelope: Envelope,
        handlers: list[RegisteredHandler],
        delivery_count: int,
        seen: set[ClaimKey],
    ) -> dict[str, Any] | Result:
        """Run the `prepare` steps of the handlers not yet applied (not in `seen`): what each
        returned, by handler name, or the Result of the first that failed."""
        prepared: dict[str, Any] = {}
        for handler in handlers:
            if handler.prepare is None:
                continue
            if claim_key(envelope, handler.name) in seen:
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
            self._log_handled(envelope, handler, ran)
        return Result(Outcome.ACK, envelope)

    @staticmethod
    def _log_handled(envelope: Envelope, handler: RegisteredHandler, ran: bool) -> None:
        if logger.isEnabledFor(logging.DEBUG):  # on every message's path: skip the adapter
            logging.LoggerAdapter(logger, envelope.log_context).debug(
                "%s %s event %s (correlation %s)",
                handler.name,
                "handled" if ran else "already handled",
                envelope.event_id,
                envelope.correlation_id,
            )

    def _failed(
        self, exc: Exception, handler: RegisteredHandler, envelope: Envelope, delivery_count: int
    ) -> Result:
        """The outcome a handler's exception steers its message to (the table above)."""
        return failure_result(
            exc,
            handler=handler.name,
            envelope=envelope,
            delivery_count=delivery_count,
            max_deliveries=self.max_deliveries,
            breaker=self.breaker,
        )
