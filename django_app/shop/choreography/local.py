"""The whole choreography in one process on the memory bus, for the demo, the benchmarks and the
component tests: relay the outbox and let the participants consume until nothing moves. In a
deployment each participant is a consumer of its own and the relay runs beside them.
"""

from __future__ import annotations

import threading

from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.memory import MemoryBus
from django_interlink.events.outbox import outbox_relay
from django_interlink.models import OutboxEvent, OutboxStatus

from .participants import registry as participants

__all__ = ["GROUP", "settle"]

# The consumer group the participants share here (one queue per event type).
GROUP = "checkout"


def settle(
    *,
    bus: MemoryBus,
    registry: HandlerRegistry = participants,
    rounds: int = 100,
    round_seconds: float = 1.0,
) -> int:
    """Relay and consume until the outbox has nothing due and the participants' queues are
    empty, at most `rounds` times of at most `round_seconds` each (a checkout waiting on a
    service that keeps failing never settles: its event is given back again and again);
    returns the events handled."""
    bus.declare(registry.event_types, group=GROUP)
    handled = 0
    for _ in range(rounds):
        relayed = outbox_relay(bus=bus).sent
        stop = threading.Event()
        timer = threading.Timer(round_seconds, stop.set)
        timer.start()
        try:
            taken = bus.consume(registry=registry, group=GROUP, idle_timeout=0.05, stop=stop)
        finally:
            timer.cancel()
        handled += taken
        due = OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()
        if not relayed and not taken and not due and not bus.pending(GROUP):
            break
    return handled
