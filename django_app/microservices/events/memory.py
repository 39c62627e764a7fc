"""In-process bus for the embedded demo and unit tests: same contract checks, same outcomes.

One queue per (consumer group, event type), like RabbitMQ's queue per service and binding.
A retried message goes to the back of its queue; a dead one to `dead_letters[group]`.
Events published to a type nobody subscribed are kept in `published` only (no mandatory flag:
the demo publishes before anything consumes).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from .budget import ConsumeBudget
from .bus import EventBus
from .consumer import Outcome
from .contract import encode_event
from .envelope import Envelope
from .handlers import HandlerRegistry


@dataclass
class _Message:
    body: bytes
    queue: str
    deliveries: int = 0
    not_before: float = 0.0


@dataclass(frozen=True)
class DeadLetter:
    body: bytes
    reason: str
    deliveries: int


class MemoryBus(EventBus):
    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._queues: dict[str, dict[str, deque[_Message]]] = {}
        self.published: list[Envelope] = []
        self.dead_letters: dict[str, list[DeadLetter]] = {}

    def publish(self, envelope: Envelope) -> None:
        body = encode_event(envelope)
        self.publish_raw(envelope.event_type, body)
        with self._cond:
            self.published.append(envelope)

    def publish_raw(self, event_type: str, body: bytes) -> None:
        """Put bytes on the bus unchecked (what a foreign producer could send; for tests)."""
        with self._cond:
            for queues in self._queues.values():
                if event_type in queues:
                    queues[event_type].append(_Message(body, event_type))
            self._cond.notify_all()

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        with self._cond:
            queues = self._queues.setdefault(self._group(group), {})
            for event_type in event_types:
                queues.setdefault(event_type, deque())

    def pending(self, group: str | None = None) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.get(self._group(group), {}).values())

    def _next(self, group: str, types: list[str]) -> _Message | None:
        now = time.monotonic()
        queues = self._queues[group]
        for event_type in types:
            queue = queues[event_type]
            for _ in range(len(queue)):
                message = queue.popleft()
                if message.not_before <= now:
                    return message
                queue.append(message)
        return None

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
        types = self._types(registry, event_types)
        group = self._group(group)
        dispatcher = self._dispatcher(registry)
        self.declare(types, group=group)
        budget = ConsumeBudget(max_messages=max_messages, idle_timeout=idle_timeout)
        while not (stop is not None and stop.is_set()) and not budget.exhausted:
            with self._cond:
                message = self._next(group, types)
                if message is None:
                    if budget.idle_expired():
                        break
                    self._cond.wait(0.05)
                    continue
            message.deliveries += 1
            result = dispatcher.dispatch(message.body, delivery_count=message.deliveries)
            with self._cond:
                if result.outcome is Outcome.RETRY:
                    message.not_before = time.monotonic() + result.delay
                    self._queues[group][message.queue].append(message)
                elif result.outcome is Outcome.DEAD:
                    self.dead_letters.setdefault(group, []).append(
                        DeadLetter(message.body, result.reason, message.deliveries)
                    )
            if result.outcome is not Outcome.RETRY:
                budget.settled_one()
            budget.mark_active()
        return budget.settled
