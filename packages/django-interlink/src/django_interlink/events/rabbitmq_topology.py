"""The RabbitMQ topology of the event bus: what is declared, all durable, and why.

    exchange  <EXCHANGE>            topic, routing key = event type
    queue     <group>.<event_type>  one per consuming service and binding; quorum (x-delivery-limit
                                    = MAX_DELIVERIES as the broker's safety net), dead-lettering to
    exchange  <EXCHANGE>.dlx        direct, and from there to
    queue     <group>.dead          the service's dead letters, each with an `x-dead-reason` header

    exchange  <EXCHANGE>.retry      headers: routes on `retry-queue`, keeps the routing key, to
    queue     <group>.retry.<n>     n = 1 .. MAX_DELIVERIES - 1; x-message-ttl = retry_delay(n),
                                    then dead-lettered through the default exchange back to the
                                    queue named by the routing key: <group>.<event_type>

A message whose attempt n failed waits in `<group>.retry.<n>` carrying `x-attempt: n + 1`, a
header we set: the broker's count cannot be relied on (classic queues never set
`x-delivery-count`; from RabbitMQ 4.3 `basic.nack` leaves it alone on quorum queues too). One queue
per attempt, because a classic queue expires messages only at its head: in one shared queue a
long wait would hold up the shorter ones behind it. The retry exchange routes on a header so that
the routing key can stay the work queue's name, the way back. Quorum retry queues (RabbitMQ >=
3.10) dead-letter at-least-once: an expiring message is not lost to a crash on its way back.

Declaring is idempotent while the arguments stay the same; RabbitMQ refuses (406) to change a
queue's arguments in place, which `declare()` turns into an error saying what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pika.exceptions as pe
from pika.adapters.blocking_connection import BlockingChannel

from ..exceptions import EventError
from .consumer import retry_delay

# The retry queue a message is published to; the headers exchange routes on it. Not "x-"
# prefixed: a headers exchange ignores those when matching.
RETRY_QUEUE_HEADER = "retry-queue"


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: str
    queue_type: str  # "quorum" or "classic"
    max_deliveries: int
    retry_backoff: float
    # x-quorum-initial-group-size of every quorum queue; None: the broker's default
    quorum_group_size: int | None = None

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}.dlx"

    @property
    def retry_exchange(self) -> str:
        return f"{self.exchange}.retry"

    @staticmethod
    def queue_name(group: str, event_type: str) -> str:
        return f"{group}.{event_type}"

    @staticmethod
    def dead_letter_queue(group: str) -> str:
        return f"{group}.dead"

    @staticmethod
    def retry_queue(group: str, attempt: int) -> str:
        """Where a message waits after its failed attempt number `attempt`."""
        return f"{group}.retry.{attempt}"

    def retry_ttl_ms(self, attempt: int) -> int:
        return round(retry_delay(attempt, base=self.retry_backoff) * 1000)

    def declare(self, channel: BlockingChannel, types: Sequence[str], group: str) -> list[str]:
        """Declare the exchanges and the group's queues for `types`; returns the queue names."""
        try:
            return self._declare_all(channel, types, group)
        except pe.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            # Queue arguments cannot change in place (RabbitMQ refuses the redeclaration).
            raise EventError(
                f"RabbitMQ refused the topology of {group}: {exc.reply_text}. A queue exists with "
                "other arguments: keep MAX_DELIVERIES / RETRY_BACKOFF / RABBITMQ_QUEUE_TYPE / "
                "RABBITMQ_QUORUM_INITIAL_GROUP_SIZE as they were when it was declared, or drain "
                "and delete it (or set the limit by policy)."
            ) from exc

    def queue_type_arguments(self) -> dict[str, Any]:
        """x-queue-type, and for quorum queues how many replicas they start with."""
        arguments: dict[str, Any] = {"x-queue-type": self.queue_type}
        if self.queue_type == "quorum" and self.quorum_group_size is not None:
            arguments["x-quorum-initial-group-size"] = self.quorum_group_size
        return arguments

    def _declare_all(self, channel: BlockingChannel, types: Sequence[str], group: str) -> list[str]:
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="direct", durable=True)
        dead = self.dead_letter_queue(group)
        channel.queue_declare(dead, durable=True, arguments=self.queue_type_arguments())
        channel.queue_bind(dead, self.dead_letter_exchange, routing_key=dead)
        self._declare_retry_queues(channel, group)
        queues = []
        for event_type in types:
            queue = self.queue_name(group, event_type)
            arguments: dict[str, Any] = {
                **self.queue_type_arguments(),
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-dead-letter-routing-key": dead,
            }
            if self.queue_type == "quorum":
                # The broker's own bound, for deliveries that never reach our code (a consumer
                # crashing on the message); our dispatcher dead-letters at the same count.
                arguments["x-delivery-limit"] = self.max_deliveries
            channel.queue_declare(queue, durable=True, arguments=arguments)
            channel.queue_bind(queue, self.exchange, routing_key=event_type)
            queues.append(queue)
        return queues

    def _declare_retry_queues(self, channel: BlockingChannel, group: str) -> None:
        channel.exchange_declare(self.retry_exchange, exchange_type="headers", durable=True)
        for attempt in range(1, self.max_deliveries):
            queue = self.retry_queue(group, attempt)
            arguments: dict[str, Any] = {
                **self.queue_type_arguments(),
                "x-message-ttl": self.retry_ttl_ms(attempt),
                # "" is the default exchange: the routing key, a work queue's name, is the way back
                "x-dead-letter-exchange": "",
            }
            if self.queue_type == "quorum":
                arguments["x-dead-letter-strategy"] = "at-least-once"
                arguments["x-overflow"] = "reject-publish"  # what at-least-once requires
            channel.queue_declare(queue, durable=True, arguments=arguments)
            channel.queue_bind(
                queue,
                self.retry_exchange,
                routing_key="",  # a headers exchange ignores it
                arguments={"x-match": "all", RETRY_QUEUE_HEADER: queue},
            )
