"""The `EventBus` interface every backend implements, and `get_bus()` choosing one from settings.

    bus = get_bus()                      # MICROSERVICES["EVENT_BUS"]["BACKEND"]
    bus.publish(Envelope.new("user.created", {...}))
    bus.subscribe("user.created", on_user_created)
    bus.consume(stop=stop_event)         # until `stop` is set

Publishing validates against the contract and returns only once the broker has the event
(confirms on RabbitMQ, XADD's reply on Redis). Consuming hands each message to a `Dispatcher`
whose `Outcome` (ack, retry later, dead-letter) the backend carries out.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from ..backoff import exponential_backoff
from ..conf import ms_settings
from ..exceptions import BusUnavailable, EventContractViolation, PublishError
from .consumer import Dispatcher, Handler, HandlerRegistry
from .envelope import Envelope

BACKENDS = ("memory", "rabbitmq", "redis", "redis_pubsub")

# The first wait before reconnecting to a broker; it doubles up to RECONNECT_BACKOFF_MAX.
RECONNECT_BACKOFF = 0.1


def reconnect_delay(attempt: int, cap: float) -> float:
    """Seconds before reconnect attempt number `attempt` to a broker that went away."""
    return exponential_backoff(attempt, base=RECONNECT_BACKOFF, cap=cap)


class EventBus(ABC):
    """Publish validated envelopes; consume them through a dispatcher (see consumer.py)."""

    backend: str = ""

    def __init__(self) -> None:
        self.registry = HandlerRegistry()

    @abstractmethod
    def publish(self, envelope: Envelope) -> None:
        """Validate and publish one event; return once the broker holds it.

        Raises `EventContractViolation` (nothing sent), `PublishError` (refused or returned) or
        `BusUnavailable` (broker unreachable after reconnect attempts).
        """

    def publish_many(self, envelopes: Iterable[Envelope]) -> int:
        """Publish several events; raises on the first one refused (see `publish`)."""
        batch = list(envelopes)
        outcomes, unavailable = self.publish_results(batch)
        for outcome in outcomes:
            if outcome is not None:
                raise PublishError(outcome)
        if unavailable is not None:
            raise unavailable
        return len(batch)

    def publish_results(
        self, envelopes: Sequence[Envelope]
    ) -> tuple[list[str | None], BusUnavailable | None]:
        """Publish a batch and say what became of each event, in order: None if the broker has
        it, otherwise why it was refused (contract, unroutable, nacked).

        If the broker became unreachable, the outcomes cover only the events before that point
        and the error is returned alongside (the rest were not published).
        """
        outcomes: list[str | None] = []
        for envelope in envelopes:
            try:
                self.publish(envelope)
            except BusUnavailable as exc:
                return outcomes, exc
            except (PublishError, EventContractViolation) as exc:
                outcomes.append(str(exc))
            else:
                outcomes.append(None)
        return outcomes, None

    def subscribe(self, event_type: str, handler: Handler, *, name: str | None = None) -> None:
        """Add a handler to this bus's own registry (what `consume()` uses by default)."""
        self.registry.add(event_type, handler, name=name)

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        """Create what consuming needs (queues, consumer groups) without consuming.

        Run before producers start when the broker refuses unroutable events (RabbitMQ).
        """
        return None

    @abstractmethod
    def consume(
        self,
        *,
        registry: HandlerRegistry | None = None,
        event_types: Sequence[str] | None = None,
        group: str | None = None,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
    ) -> int:
        """Deliver events to handlers until `stop` is set, `max_messages` were settled, or
        nothing arrived for `idle_timeout` seconds. Returns the number of messages settled.

        `event_types` defaults to every type the registry handles; `group` is the consuming
        service (one queue or consumer group per service), by default CONSUMER_GROUP.
        """

    def close(self) -> None:
        """Release connections; the bus reconnects if used again."""
        return None

    # helpers shared by the backends

    def _dispatcher(self, registry: HandlerRegistry | None) -> Dispatcher:
        return Dispatcher(
            registry if registry is not None else self.registry,
            max_deliveries=getattr(self, "max_deliveries", None),
        )

    def _types(
        self, registry: HandlerRegistry | None, event_types: Sequence[str] | None
    ) -> list[str]:
        types = list(event_types) if event_types else (registry or self.registry).event_types
        if not types:
            raise ValueError("nothing to consume: no event types given and no handler registered")
        return sorted(set(types))

    @staticmethod
    def _group(group: str | None) -> str:
        return group or str(ms_settings.EVENT_BUS["CONSUMER_GROUP"])


_local = threading.local()
_shared_lock = threading.Lock()
_shared: dict[tuple[Any, ...], EventBus] = {}


def _bus_key(backend: str, config: dict[str, Any]) -> tuple[Any, ...]:
    return (
        backend,
        config.get("RABBITMQ_URL"),
        config.get("RABBITMQ_EXCHANGE"),
        config.get("REDIS_URL"),
        config.get("REDIS_STREAM_PREFIX"),
    )


def build_bus(backend: str | None = None, **overrides: Any) -> EventBus:
    """A new bus of `backend` (default: the configured one); the caller owns and closes it.

    The in-memory bus is the exception: there is one per process (see `get_bus`).
    """
    config = {**ms_settings.EVENT_BUS, **{k.upper(): v for k, v in overrides.items()}}
    backend = backend or str(config["BACKEND"])
    if backend == "memory":
        # One per process even here: a consumer must see what the rest of the process publishes.
        return get_bus("memory")
    if backend == "rabbitmq":
        from .rabbitmq import RabbitMQBus

        return RabbitMQBus.from_config(config)
    if backend == "redis":
        from .redis import RedisStreamsBus

        return RedisStreamsBus.from_config(config)
    if backend == "redis_pubsub":
        from .redis import RedisPubSubBus

        return RedisPubSubBus.from_config(config)
    raise ValueError(f"unknown EVENT_BUS backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def get_bus(backend: str | None = None) -> EventBus:
    """The configured bus for this thread: one long-lived connection per thread, reused.

    The in-memory bus is one per process (threads must see each other's events).
    """
    config = ms_settings.EVENT_BUS
    backend = backend or str(config["BACKEND"])
    key = _bus_key(backend, config)
    if backend == "memory":
        with _shared_lock:
            bus = _shared.get(key)
            if bus is None:
                from .memory import MemoryBus

                bus = _shared[key] = MemoryBus()
            return bus
    buses: dict[tuple[Any, ...], EventBus] = _local.__dict__.setdefault("buses", {})
    bus = buses.get(key)
    if bus is None:
        bus = buses[key] = build_bus(backend)
    return bus


def reset_buses() -> None:
    """Close this thread's buses and forget the shared in-memory bus (tests, after fork)."""
    for bus in list(_local.__dict__.get("buses", {}).values()):
        bus.close()
    _local.__dict__["buses"] = {}
    with _shared_lock:
        _shared.clear()


def publish(envelope: Envelope) -> None:
    """Publish directly (no outbox) on this thread's configured bus."""
    get_bus().publish(envelope)


__all__ = [
    "BACKENDS",
    "EventBus",
    "build_bus",
    "get_bus",
    "publish",
    "reset_buses",
]
