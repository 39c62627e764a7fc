"""What happens to a received message: decode, validate, run each handler once, decide its fate.

The exception a handler raises steers the outcome (FastStream's Ack/Nack/Reject, as types):

* returns normally                  -> ACK (the effect and its inbox row are committed)
* `PermanentHandlerError`,
  `EventContractViolation`          -> DEAD: dead-lettered at once, retrying cannot help
* our infrastructure failed: the
  database unreachable, a service
  down, `InfrastructureError`       -> DEFER: given back uncounted, the consumer's breaker waits
                                       (infrastructure.py); a whole window defers when the
                                       database goes away under it
* `RetryableHandlerError` or any
  other exception                   -> RETRY after a backoff, DEAD once MAX_DELIVERIES is reached

A message is never dropped and never acknowledged as a success unless every handler succeeded.
The handlers come from a `HandlerRegistry` (handlers.py), each run through the inbox (inbox.py)
by handling.py, which the `Dispatcher` builds on; the backends (memory, RabbitMQ, Redis) only
carry out the `Outcome`. `dispatch_window` decides a window of messages in one transaction
(CONSUME_WINDOW): tried at once with one inbox INSERT and no savepoint, and message by message,
a savepoint each, only if a handler failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from opentelemetry import trace

from ..metrics import instruments
from ..request_id import bind_request_id
from .crash import crash_point
from .envelope import Envelope
from .handlers import HandlerRegistry, RegisteredHandler
from .handling import Handling
from .inbox import (
    ClaimKey,
    claim_key,
    inbox_apply_claimed,
    inbox_claim,
    inbox_seen_many,
    inbox_unclaim,
)
from .infrastructure import Breaker, Failure, classify
from .outcomes import Outcome, Result, retry_delay
from .trace_context import Headers, processing, processing_window

# What the backends import from here (outcomes.py defines them).
__all__ = ["Dispatcher", "Outcome", "Result", "retry_delay"]

logger = logging.getLogger("django_interlink.events.consumer")


@dataclass(slots=True)
class _Admitted:
    """A message of a window that passed decoding, the contract and its prepare steps."""

    index: int  # its position in the window
    envelope: Envelope
    handlers: list[RegisteredHandler]
    delivery_count: int
    prepared: dict[str, Any] = field(default_factory=dict)
    headers: Headers = None  # its headers or stream fields, with its trace context


class _WindowFailed(Exception):
    """Raised inside a window's transaction tried at once, to roll it back: the handler of the
    message at `position` of the admitted ones raised `error` (no handler, position -1: the
    inbox claim failed)."""

    def __init__(self, position: int, handler: RegisteredHandler | None, error: Exception) -> None:
        super().__init__(f"window failed at message {position}: {error!r}")
        self.position = position
        self.handler = handler
        self.error = error


class Dispatcher(Handling):
    """Runs the registered handlers for one message and says what to do with it."""

    def __init__(
        self,
        registry: HandlerRegistry,
        *,
        max_deliveries: int | None = None,
        breaker: Breaker | None = None,
        group: str = "",
        system: str = "",
    ) -> None:
        super().__init__(registry, max_deliveries=max_deliveries, breaker=breaker)
        # The consuming service whose outcomes this dispatcher counts (metrics)
        self.group = group
        self.system = system  # the bus's backend, for the process spans

    def dispatch(self, body: bytes, *, delivery_count: int = 1, headers: Headers = None) -> Result:
        """Decide one message's fate (`delivery_count` 1 at first; `headers` carry its trace)."""
        decoded = self._decode(body)
        if isinstance(decoded, Result):
            instruments.consumer_outcomes(self.group, [decoded.outcome.value])
            return decoded
        envelope, handlers = decoded
        with processing(envelope, headers, self.system, handlers) as span:
            result = self._run(envelope, handlers, delivery_count, None)
        if span is not trace.INVALID_SPAN:  # tracing on: its settle span's parent
            result = result.settled_under(span.get_span_context())
        if result.outcome is Outcome.ACK:
            self.breaker.succeeded()
        instruments.consumer_outcomes(self.group, [result.outcome.value])
        return result

    def dispatch_window(
        self,
        messages: Sequence[tuple[bytes, int]],
        *,
        stop: threading.Event | None = None,
        headers: Sequence[Headers] | None = None,
    ) -> list[Result]:
        """Decide the fate of a window of (body, delivery_count) in ONE database transaction.

        Decoding, the contract and every `prepare` step come first, outside it (no row lock
        held across a remote read); a message that fails there is decided alone. Then the
        window is tried at once: the inbox rows of all its messages in one INSERT, the
        handlers of those whose row is new, no savepoint, one COMMIT. If a handler raises,
        that transaction is rolled back and the window is decided again message by message,
        each in its own savepoint (its inbox rows and its handlers' effects together), rolled
        back if it is not an ACK: the failing message keeps nothing and the others keep
        everything, as if the first try had never been. A handler's code may so run twice
        for one delivery; only its database effects are once, as after any redelivery.

        The caller settles the results after this returns, i.e. after the commit: a crash
        before it redelivers the whole window, and the inbox makes the replay harmless.
        Once `stop` is set (SIGTERM), the message in hand is finished and the window ends
        there: the results cover that prefix only, committed; the caller leaves the rest
        unsettled for the broker to hand on, as the per-message path leaves its prefetch.
        If the database goes away under the window, nothing of it committed: every message
        is DEFER (infrastructure.py). `headers`, one per message, carry their trace contexts.
        """
        try:
            results = self._dispatch_window(messages, stop, headers or [None] * len(messages))
        except Exception as exc:
            failure = classify(exc)
            if failure is not Failure.DATABASE or self.breaker.probe():
                raise
            reason = f"the window's transaction failed: {type(exc).__name__}: {exc}"
            self.breaker.trip(failure, reason)
            instruments.consumer_outcomes(self.group, [Outcome.DEFER.value] * len(messages))
            return [Result(Outcome.DEFER, reason=reason) for _ in messages]
        if any(result.outcome is Outcome.ACK for result in results):
            self.breaker.succeeded()
        instruments.consumer_outcomes(self.group, [result.outcome.value for result in results])
        return results

    def _dispatch_window(
        self,
        messages: Sequence[tuple[bytes, int]],
        stop: threading.Event | None,
        headers: Sequence[Headers],
    ) -> list[Result]:
        results: list[Result | None] = [None] * len(messages)
        decoded = self._decode_window(messages, results, headers)
        work: list[_Admitted] = []
        batch = trace.INVALID_SPAN_CONTEXT
        try:
            # one batch span: the prepare steps, the window's INSERT and every handler under it
            with processing_window(decoded, self.system) as span:
                batch = span.get_span_context()
                work = self._admit(decoded, results)
                decided = self._decide_at_once(work, results, stop, len(messages), batch)
        except _WindowFailed as failed:
            known: dict[int, Result] = {}
            if failed.handler is not None and not isinstance(failed.error, DatabaseError):
                # The handler's own verdict stands; a database error may be another message's
                # doing (a transaction already aborted, a deadlock), so that one runs again.
                item = work[failed.position]
                with bind_request_id(item.envelope.correlation_id):
                    known[failed.position] = self._failed(
                        failed.error, failed.handler, item.envelope, item.delivery_count
                    )
            else:  # not logged yet: the window's transaction failed, not (yet) a message
                logger.info(
                    "a window's transaction failed (%r): deciding its %d message(s) one by one",
                    failed.error,
                    len(work),
                )
            decided = self._decide_one_by_one(
                work, results, stop, len(messages), failed.position, known
            )
        found = [result for result in results[:decided] if result is not None]
        if not batch.is_valid:
            return found
        # settled as one window: the batch span is every result's settle parent
        return [r if r.span is not None else r.settled_under(batch) for r in found]

    def _decode_window(
        self,
        messages: Sequence[tuple[bytes, int]],
        results: list[Result | None],
        headers: Sequence[Headers],
    ) -> list[_Admitted]:
        """Decode and validate each message; what fails is decided in `results`, the rest is
        returned, in order."""
        decoded: list[_Admitted] = []
        for index, (body, count) in enumerate(messages):
            found = self._decode(body)
            if isinstance(found, Result):
                results[index] = found
            else:
                decoded.append(_Admitted(index, found[0], found[1], count, headers=headers[index]))
        return decoded

    def _admit(self, decoded: list[_Admitted], results: list[Result | None]) -> list[_Admitted]:
        """Run the `prepare` steps of the decoded messages; what fails is decided in `results`,
        the rest is returned, in order. One inbox query for the whole window tells which
        prepare steps are for events handled already."""
        seen = inbox_seen_many(
            claim_key(item.envelope, handler.name)
            for item in decoded
            for handler in item.handlers
            if handler.prepare is not None
        )
        admitted: list[_Admitted] = []
        for item in decoded:
            if not any(handler.prepare is not None for handler in item.handlers):
                admitted.append(item)
                continue
            with bind_request_id(item.envelope.correlation_id):
                prepared = self._prepare(item.envelope, item.handlers, item.delivery_count, seen)
            if isinstance(prepared, Result):
                results[item.index] = prepared
            else:
                item.prepared = prepared
                admitted.append(item)
        return admitted

    def _decide_at_once(
        self,
        work: list[_Admitted],
        results: list[Result | None],
        stop: threading.Event | None,
        size: int,
        batch: trace.SpanContext,
    ) -> int:
        """The window in one INSERT of its inbox rows and no savepoint; raises `_WindowFailed`
        (its transaction rolled back) when a handler or the claim fails. How many of the
        messages are decided (all, or the prefix before stopping); `batch` is the span the
        ACKs were decided in."""
        claims = [
            (item.envelope, handler.name)
            for item in work
            for handler in item.handlers
            if handler.use_inbox and (handler.prepare is None or handler.name in item.prepared)
        ]
        decided, acked = size, []
        with transaction.atomic():
            try:
                claimed = inbox_claim(claims)
            except DatabaseError as exc:
                raise _WindowFailed(-1, None, exc) from exc
            for position, item in enumerate(work):
                if stop is not None and stop.is_set():
                    inbox_unclaim(claimed)  # what is left belongs to the messages not run
                    decided = item.index
                    break
                with bind_request_id(item.envelope.correlation_id):
                    for handler in item.handlers:
                        try:
                            ran = self._apply(item, handler, claimed)
                        except Exception as exc:
                            raise _WindowFailed(position, handler, exc) from exc
                        self._log_handled(item.envelope, handler, ran)
                acked.append(item)
            crash_point("window:before_commit")
        span = batch if batch.is_valid else None
        for item in acked:
            results[item.index] = Result(Outcome.ACK, item.envelope, span=span)
        return decided

    @staticmethod
    def _apply(item: _Admitted, handler: RegisteredHandler, claimed: set[ClaimKey]) -> bool:
        """One handler of a window tried at once; True if it ran now."""
        if not handler.use_inbox:
            handler.func(item.envelope)
            return True
        if handler.prepare is not None and handler.name not in item.prepared:
            return False  # found in the inbox before its prepare step
        return inbox_apply_claimed(
            envelope=item.envelope,
            handler=handler,
            claimed=claimed,
            prepared=item.prepared.get(handler.name),
        )

    def _decide_one_by_one(
        self,
        work: list[_Admitted],
        results: list[Result | None],
        stop: threading.Event | None,
        size: int,
        failed_at: int,
        known: dict[int, Result],
    ) -> int:
        """The window again, a savepoint a message, after the try at once failed at position
        `failed_at` of `work`: the messages up to it were in hand then, so they are decided
        even if stopping; a message in `known` keeps the result it had (its handler is not
        run twice). How many of the messages are decided."""
        decided = size
        with transaction.atomic():
            for position, item in enumerate(work):
                if position > failed_at and stop is not None and stop.is_set():
                    decided = item.index
                    break
                if position in known:
                    results[item.index] = known[position]
                    continue
                savepoint = transaction.savepoint()
                with processing(item.envelope, item.headers, self.system, item.handlers):
                    result = self._run(
                        item.envelope, item.handlers, item.delivery_count, item.prepared
                    )
                # An ACK's savepoint is not released: a RELEASE is one more round trip, and a
                # later ROLLBACK TO undoes only what followed its own savepoint, so the
                # messages before a failing one keep their work; COMMIT ends them all.
                if result.outcome is not Outcome.ACK:
                    # A database error (a unique violation) marks the whole transaction for
                    # rollback; back at the savepoint before it, the transaction is sound
                    # (what Django's atomic() does when a savepoint block fails).
                    transaction.set_rollback(False)
                    transaction.savepoint_rollback(savepoint)
                results[item.index] = result
            crash_point("window:before_commit")
        return decided
