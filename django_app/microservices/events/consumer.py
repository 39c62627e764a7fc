"""What happens to a received message: decode, validate, run each handler once, decide its fate.

The exception a handler raises steers the outcome (FastStream's Ack/Nack/Reject, as types):

* returns normally                  -> ACK (the effect and its inbox row are committed)
* `PermanentHandlerError`,
  `EventContractViolation`          -> DEAD: dead-lettered at once, retrying cannot help
* `RetryableHandlerError` or any
  other exception                   -> RETRY after a backoff, DEAD once MAX_DELIVERIES is reached

A message is never dropped and never acknowledged as a success unless every handler succeeded.
Backends (memory, RabbitMQ, Redis Streams) only carry out the `Outcome`.
"""

from __future__ import annotations

import enum
import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import EventContractViolation, PermanentHandlerError, ServiceError
from ..request_id import bind_request_id
from .contract import validate_body
from .envelope import Envelope

logger = logging.getLogger("microservices.events.consumer")

Handler = Callable[[Envelope], None]

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


@dataclass(frozen=True, slots=True)
class RegisteredHandler:
    name: str
    event_type: str
    func: Handler
    # False for handlers that are idempotent by themselves or must not touch the database.
    use_inbox: bool = True


class HandlerRegistry:
    """Handlers by event type; each handler has a stable name (its inbox key)."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[RegisteredHandler]] = {}

    def add(
        self, event_type: str, func: Handler, *, name: str | None = None, use_inbox: bool = True
    ) -> RegisteredHandler:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        existing = self._by_type.setdefault(event_type, [])
        if any(h.name == handler_name for h in existing):
            raise ValueError(f"handler {handler_name!r} already registered for {event_type}")
        registered = RegisteredHandler(handler_name, event_type, func, use_inbox)
        existing.append(registered)
        return registered

    def handler(
        self, event_type: str, *, name: str | None = None, use_inbox: bool = True
    ) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""

        def decorate(func: Handler) -> Handler:
            self.add(event_type, func, name=name, use_inbox=use_inbox)
            return func

        return decorate

    def handlers_for(self, event_type: str) -> list[RegisteredHandler]:
        return list(self._by_type.get(event_type, ()))

    @property
    def event_types(self) -> list[str]:
        return sorted(t for t, handlers in self._by_type.items() if handlers)

    def merge(self, other: HandlerRegistry) -> HandlerRegistry:
        merged = HandlerRegistry()
        for registry in (self, other):
            for handlers in registry._by_type.values():
                for h in handlers:
                    merged.add(h.event_type, h.func, name=h.name, use_inbox=h.use_inbox)
        return merged

    def only(self, event_types: Sequence[str]) -> HandlerRegistry:
        """The handlers of some event types only (a consumer process for a subset)."""
        subset = HandlerRegistry()
        for event_type in event_types:
            for h in self.handlers_for(event_type):
                subset.add(h.event_type, h.func, name=h.name, use_inbox=h.use_inbox)
        return subset


def load_registry(modules: Sequence[str] | None = None) -> HandlerRegistry:
    """Merge the `registry` of each module (default: EVENT_BUS["HANDLER_MODULES"])."""
    names = list(modules) if modules else list(ms_settings.EVENT_BUS["HANDLER_MODULES"])
    merged = HandlerRegistry()
    for name in names:
        module = importlib.import_module(name)
        registry = getattr(module, "registry", None)
        if not isinstance(registry, HandlerRegistry):
            raise ImportError(f"{name} has no `registry = HandlerRegistry()`")
        merged = merged.merge(registry)
    return merged


def retry_delay(delivery_count: int) -> float:
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
        from .inbox import inbox_run  # the inbox needs the ORM; keep this module import-light

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
