"""In-process bus for the embedded demo and unit tests: same contract checks, same outcomes.

One queue per (consumer group, event type), like RabbitMQ's queue per service and binding.
A retried message goes to the back of its queue; a dead one to `dead_letters[group]`, read,
replayed and discarded through `dead_letter_box(group)`. A deferred one (our infrastructure
failed) goes back to the front of its queue uncounted, and the consumer waits on its breaker.
Events published to a type nobody subscribed are kept in `published` only (no mandatory flag:
the demo publishes before anything consumes).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .budget import ConsumeBudget
from .bus import EventBus
from .consumer import Outcome
from .contract import encode_event
from .dead_letters import DeadLetter, DeadLetterBox, bounded, event_fields, failure, parse_time
from .envelope import Envelope
from .handlers import HandlerRegistry


@dataclass
class _Message:
    body: bytes
    queue: str
    deliveries: int = 0
    not_before: float = 0.0
    replays: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    # The trace context the envelope carries (`traceparent`): the process span's parent.
    headers: dict[str, str] = field(default_factory=dict)


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
        self.publish_raw(envelope.event_type, body, headers=envelope.trace)
        with self._cond:
            self.published.append(envelope)

    def publish_raw(
        self, event_type: str, body: bytes, *, headers: Mapping[str, str] | None = None
    ) -> None:
        """Put bytes on the bus unchecked (what a foreign producer could send; for tests)."""
        with self._cond:
            for queues in self._queues.values():
                if event_type in queues:
                    queues[event_type].append(
                        _Message(body, event_type, headers=dict(headers or {}))
                    )
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
        dispatcher = self._dispatcher(registry, group)
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
            result = dispatcher.dispatch(
                message.body, delivery_count=message.deliveries, headers=message.headers
            )
            with self._cond:
                if result.outcome is Outcome.DEFER:
                    message.deliveries -= 1  # our infrastructure's failure: not counted
                    self._queues[group][message.queue].appendleft(message)
                elif result.outcome is Outcome.RETRY:
                    message.history.append(failure(result.reason, message.deliveries))
                    message.not_before = time.monotonic() + result.delay
                    self._queues[group][message.queue].append(message)
                elif result.outcome is Outcome.DEAD:
                    message.history.append(failure(result.reason, message.deliveries))
                    self.dead_letters.setdefault(group, []).append(
                        self._dead_letter(group, message, result.reason)
                    )
            if result.outcome is Outcome.DEFER:
                dispatcher.breaker.wait(stop or threading.Event())
            elif result.outcome is not Outcome.RETRY:
                budget.settled_one()
            budget.mark_active()
        return budget.settled

    @staticmethod
    def _dead_letter(group: str, message: _Message, reason: str) -> DeadLetter:
        event_id, event_type = event_fields(message.body)
        history = bounded(message.history)
        return DeadLetter(
            id=uuid.uuid4().hex,
            group=group,
            event_id=event_id,
            event_type=event_type,
            reason=reason,
            attempts=message.deliveries,
            first_failure=parse_time(history[0]["at"]),
            last_failure=parse_time(history[-1]["at"]),
            replays=message.replays,
            body=message.body,
            headers={"queue": message.queue},
            history=history,
        )

    def dead_letter_box(self, group: str | None = None) -> MemoryDeadLetters:
        return MemoryDeadLetters(self, self._group(group))

    def _requeue(self, group: str, letter: DeadLetter) -> None:
        """A dead letter back on its group's queue, as a new delivery (caller holds _cond)."""
        queue = str(letter.headers.get("queue") or letter.event_type)
        message = _Message(letter.body, queue, replays=letter.replays + 1)
        self._queues.setdefault(group, {}).setdefault(queue, deque()).append(message)
        self._cond.notify_all()


class MemoryDeadLetters(DeadLetterBox):
    """The memory bus's dead letters of one group (the playground shows them)."""

    def __init__(self, bus: MemoryBus, group: str) -> None:
        super().__init__(group)
        self.bus = bus

    def read(self, *, limit: int = 10_000) -> list[DeadLetter]:
        with self.bus._cond:
            return list(self.bus.dead_letters.get(self.group, [])[:limit])

    def replay(self, ids: Sequence[str]) -> list[str]:
        return self._take(ids, replay=True)

    def discard(self, ids: Sequence[str]) -> list[str]:
        return self._take(ids, replay=False)

    def _take(self, ids: Sequence[str], *, replay: bool) -> list[str]:
        wanted = set(ids)
        with self.bus._cond:
            letters = self.bus.dead_letters.get(self.group, [])
            taken = [letter for letter in letters if letter.id in wanted]
            self.bus.dead_letters[self.group] = [kept for kept in letters if kept.id not in wanted]
            for letter in taken if replay else ():
                self.bus._requeue(self.group, letter)
        return [letter.id for letter in taken]
