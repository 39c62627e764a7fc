"""Which bus a process uses: the backend table, and one long-lived bus per thread.

    bus = get_bus()                      # INTERLINK["EVENT_BUS"]["BACKEND"], this thread's
    bus = build_bus("rabbitmq", RABBITMQ_EXCHANGE="billing")   # a new one; the caller closes it

A broker connection is not thread-safe, so `get_bus()` keeps one bus per thread; the in-memory
bus is one per process, because a consumer must see what the other threads publish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..conf import ms_settings
from .bus import EventBus
from .envelope import Envelope
from .memory import MemoryBus
from .rabbitmq import RabbitMQBus
from .redis_pubsub import RedisPubSubBus
from .redis_streams import RedisStreamsBus

# Buses that talk to a broker, built from the EVENT_BUS settings.
BROKER_BUSES: dict[str, Callable[[Mapping[str, Any]], EventBus]] = {
    "rabbitmq": RabbitMQBus.from_config,
    "redis": RedisStreamsBus.from_config,
    "redis_pubsub": RedisPubSubBus.from_config,
}
BACKENDS = ("memory", *BROKER_BUSES)

_local = threading.local()
_shared_lock = threading.Lock()
_shared: dict[tuple[Any, ...], EventBus] = {}


def bus_settings(**overrides: Any) -> dict[str, Any]:
    """EVENT_BUS as configured, every default filled in, with some keys overridden.

    The one place a bus's settings are put together: the buses read each key without a
    fallback, so every default lives in conf.DEFAULTS only.
    """
    return {**ms_settings.EVENT_BUS, **{k.upper(): v for k, v in overrides.items()}}


def _hashable(value: Any) -> Any:
    """A setting as part of a dict key: RABBITMQ_URL may be a list."""
    return tuple(value) if isinstance(value, list) else value


def _bus_key(backend: str, config: dict[str, Any]) -> tuple[Any, ...]:
    return (
        backend,
        _hashable(config["RABBITMQ_URL"]),
        config["RABBITMQ_EXCHANGE"],
        config["REDIS_URL"],
        repr(config["REDIS_SENTINELS"]),
        config["REDIS_SENTINEL_SERVICE"],
        config["REDIS_STREAM_PREFIX"],
        # what a publish waits for: a bus built without it must not serve a setting with it
        config["REDIS_WAIT_REPLICAS"],
        config["REDIS_WAIT_TIMEOUT_MS"],
    )


def build_bus(backend: str | None = None, **overrides: Any) -> EventBus:
    """A new bus of `backend` (default: the configured one); the caller owns and closes it.

    The in-memory bus is the exception: there is one per process (see `get_bus`).
    """
    config = bus_settings(**overrides)
    backend = backend or str(config["BACKEND"])
    if backend == "memory":
        # One per process even here: a consumer must see what the rest of the process publishes.
        return get_bus("memory")
    if backend not in BROKER_BUSES:
        raise ValueError(
            f"unknown EVENT_BUS backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    return BROKER_BUSES[backend](config)


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
