"""A group's RabbitMQ dead-letter queue (`<group>.dead`), read without consuming it.

A queue has no "peek", so every operation runs on one channel of its own: `basic_get` each
message without acknowledging it (the broker hands none of them out twice meanwhile), act on the
wanted ones, then `basic_nack(multiple, requeue)` gives the broker back all the others, in the
same order. Reading so removes nothing; an operator listing while another replays sees the
messages the other holds at that moment missing from the listing, not lost. (A stream queue
would read without taking, but a stream cannot delete one entry, which discard and replay need.)

A replay is published on a confirming channel to the group's work queue through the default
exchange (the queue of that one group, not every group bound to the event type), with its
`message_id` (the event id), `x-attempt: 1` and `x-replays` one higher; only after the broker's
confirm is the dead letter acked, so a crash in between leaves it in place (and the inbox makes
the copy harmless).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pika
import pika.exceptions as pe
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from .dead_letters import DeadLetter, DeadLetterBox, event_fields, parse_time
from .rabbitmq_settle import (
    ATTEMPT_HEADER,
    DEAD_LETTER_ID_HEADER,
    DEAD_REASON_HEADER,
    FAILURES_HEADER,
    REPLAYS_HEADER,
    persistent_copy,
)
from .rabbitmq_topology import RETRY_QUEUE_HEADER, Topology

# Headers that describe the dead-lettering, not the event: dropped from a replayed copy.
DEAD_ONLY_HEADERS = frozenset(
    {
        DEAD_REASON_HEADER,
        DEAD_LETTER_ID_HEADER,
        RETRY_QUEUE_HEADER,
        "x-deliveries",
        "x-retry-reason",
        "x-death",
        "x-delivery-count",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)

Got = tuple[Any, pika.BasicProperties, bytes]  # (method, properties, body) of a basic_get


class RabbitMQDeadLetters(DeadLetterBox):
    def __init__(
        self, connect: Callable[[], BlockingConnection], topology: Topology, group: str
    ) -> None:
        super().__init__(group)
        self.connect = connect
        self.topology = topology
        self.queue = topology.dead_letter_queue(group)

    def read(self, *, limit: int = 10_000) -> list[DeadLetter]:
        return [self._letter(properties, body) for _, properties, body in self._hold(limit, None)]

    def replay(self, ids: Sequence[str]) -> list[str]:
        return self._hold_and(ids, self._replay_one)

    def discard(self, ids: Sequence[str]) -> list[str]:
        return self._hold_and(ids, lambda channel, got: None)

    # -- one channel, every message held unacked until the end -----------------------------

    def _hold(
        self, limit: int, act: Callable[[BlockingChannel, list[Got]], None] | None
    ) -> list[Got]:
        connection = self.connect()
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            held: list[Got] = []
            while len(held) < limit:
                method, properties, body = channel.basic_get(self.queue, auto_ack=False)
                if method is None:
                    break
                held.append((method, properties, body))
            if act is not None:
                act(channel, held)
            if held:  # everything not acked goes back, in its order
                channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
            return held
        finally:
            if connection.is_open:
                connection.close()

    def _hold_and(
        self, ids: Sequence[str], one: Callable[[BlockingChannel, Got], None]
    ) -> list[str]:
        """Act on the held messages whose id is wanted, acking each once `one` returned."""
        wanted, done = set(ids), []

        def act(channel: BlockingChannel, held: list[Got]) -> None:
            for got in held:
                letter_id = self._id(got[1], got[2])
                if letter_id not in wanted:
                    continue
                try:
                    one(channel, got)
                except (pe.UnroutableError, pe.NackError):
                    continue  # its queue is gone or refused it: left in the dead letters
                channel.basic_ack(got[0].delivery_tag)
                done.append(letter_id)

        self._hold(10_000_000, act)
        return done

    def _replay_one(self, channel: BlockingChannel, got: Got) -> None:
        """Publish the copy to the group's work queue; returns once the broker confirmed it."""
        _, properties, body = got
        headers = dict(properties.headers or {})
        replayed = {k: v for k, v in headers.items() if k not in DEAD_ONLY_HEADERS}
        replayed[ATTEMPT_HEADER] = 1
        replayed[REPLAYS_HEADER] = _int(headers.get(REPLAYS_HEADER)) + 1
        copy = persistent_copy(properties, headers=replayed)
        channel.basic_publish("", self._work_queue(properties), body, copy, mandatory=True)

    # -- reading the headers -------------------------------------------------------------

    def _work_queue(self, properties: pika.BasicProperties) -> str:
        """The queue the message failed in: ours from the routing key it was published with,
        the broker's own dead-lettering names it in x-death."""
        headers = properties.headers or {}
        routing_key = headers.get("x-original-routing-key")
        if routing_key:
            return self.topology.queue_name(self.group, _text(routing_key))
        deaths = headers.get("x-death") or []
        if deaths and deaths[0].get("queue"):
            return _text(deaths[0]["queue"])
        return self.topology.queue_name(self.group, str(properties.type or ""))

    @staticmethod
    def _id(properties: pika.BasicProperties, body: bytes) -> str:
        """Ours when we dead-lettered it; else (the broker's delivery limit) a digest."""
        headers = properties.headers or {}
        if headers.get(DEAD_LETTER_ID_HEADER):
            return _text(headers[DEAD_LETTER_ID_HEADER])
        digest = hashlib.sha256(body + repr(headers.get("x-death")).encode())
        return digest.hexdigest()[:32]

    def _letter(self, properties: pika.BasicProperties, body: bytes) -> DeadLetter:
        headers = dict(properties.headers or {})
        history = [
            {_text(k): (_text(v) if isinstance(v, bytes) else v) for k, v in entry.items()}
            for entry in headers.get(FAILURES_HEADER) or []
            if isinstance(entry, dict)
        ]
        deaths = headers.get("x-death") or [{}]
        broker_time = parse_time(deaths[0].get("time")) if deaths[0].get("time") else None
        event_id, event_type = event_fields(body)
        reason = headers.get(DEAD_REASON_HEADER) or deaths[0].get("reason") or ""
        attempts = headers.get("x-deliveries") or headers.get(ATTEMPT_HEADER) or 1
        return DeadLetter(
            id=self._id(properties, body),
            group=self.group,
            event_id=event_id or str(properties.message_id or ""),
            event_type=event_type or str(properties.type or ""),
            reason=_text(reason),
            attempts=_int(attempts),
            first_failure=parse_time(history[0]["at"]) if history else broker_time,
            last_failure=parse_time(history[-1]["at"]) if history else broker_time,
            replays=_int(headers.get(REPLAYS_HEADER)),
            body=body,
            headers=headers,
            history=history,
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
