"""The RabbitMQ topology of the event bus: what is declared, all durable, and why.

    exchange  <EXCHANGE>            topic, routing key = event type
    queue     <group>.<event_type>  one per consuming service and binding; quorum (x-delivery-limit
                                    = MAX_DELIVERIES as the broker's safety net), dead-lettering to
    exchange  <EXCHANGE>.dlx        direct, and from there to
    queue     <group>.dead          the service's dead letters, each with an `x-dead-reason` header

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


@dataclass(frozen=True, slots=True)
class Topology:
    exchange: str
    queue_type: str  # "quorum" or "classic"
    max_deliveries: int

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.exchange}.dlx"

    @staticmethod
    def queue_name(group: str, event_type: str) -> str:
        return f"{group}.{event_type}"

    @staticmethod
    def dead_letter_queue(group: str) -> str:
        return f"{group}.dead"

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
                "other arguments: keep MAX_DELIVERIES / RABBITMQ_QUEUE_TYPE as they were when it "
                "was declared, or drain and delete it (or set the limit by policy)."
            ) from exc

    def _declare_all(self, channel: BlockingChannel, types: Sequence[str], group: str) -> list[str]:
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="direct", durable=True)
        dead = self.dead_letter_queue(group)
        channel.queue_declare(dead, durable=True, arguments={"x-queue-type": self.queue_type})
        channel.queue_bind(dead, self.dead_letter_exchange, routing_key=dead)
        queues = []
        for event_type in types:
            queue = self.queue_name(group, event_type)
            arguments: dict[str, Any] = {
                "x-queue-type": self.queue_type,
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
