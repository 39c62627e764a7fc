"""RabbitMQ bus (pika): confirmed, mandatory, persistent publishing; quorum queues with a DLQ.

The exchanges and queues it declares are drawn in topology.py: one durable queue per consuming
service and event type, retry queues with a TTL, and one dead-letter queue per service. A failed
message is never held while it waits: it is republished (confirmed) to the retry queue of its
attempt, then acked, and comes back on its own when its TTL runs out (settle.py). A deferred one
(our infrastructure failed, infrastructure.py) is the exception: the consumer holds it unacked
until its breaker closes (subscriber.py). `dead_letter_box(group)` reads the dead-letter queue
without consuming it (dead_letters.py).

A bus object holds one long-lived connection and channel for publishing; `get_bus()` keeps one
bus per thread (pika connections are not thread-safe). Publishing returns once the broker has
confirmed; a batch (`publish_many`, the outbox relay) is sent at once and its confirms awaited
together (publisher.py). An unroutable event (no queue bound) raises `PublishError` instead of
vanishing. Both publishing and consuming reconnect with capped exponential backoff when the
broker goes away.

RABBITMQ_URL may name several nodes of a cluster (nodes.py): every connection goes to the first
node of a fresh shuffle that answers, and a client that lost its node tries the others at once.
A lost publisher sends again only what was not confirmed; a consumer never acks a delivery of a
lost connection on the new one (its deliveries die with their channel, the broker requeues them,
and the inbox drops what was applied already).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import pika
from pika.adapters.blocking_connection import BlockingConnection

from ...exceptions import BusUnavailable, PublishError
from ..bus import Consumption, EventBus
from ..contract import encode_batch
from ..envelope import Envelope
from .dead_letters import RabbitMQDeadLetters
from .errors import RECONNECTABLE
from .nodes import connection_parameters, describe, failover_delay, rabbitmq_urls
from .publisher import ConfirmingPublisher, Outgoing, PublisherLost
from .subscriber import Subscriber
from .topology import Topology

logger = logging.getLogger("django_interlink.events.rabbitmq")

PUBLISH_RETRYABLE: tuple[type[BaseException], ...] = (PublisherLost, *RECONNECTABLE)


class RabbitMQBus(EventBus):
    backend = "rabbitmq"

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        exchange: str,
        prefetch: int,
        queue_type: str,
        heartbeat: int,
        publish_timeout: float,
        reconnect_backoff_max: float,
        max_deliveries: int,
        retry_backoff: float,
        consume_window: int,
        consume_window_wait: float,
        quorum_group_size: int | None = None,
    ) -> None:
        super().__init__()
        if not url:
            raise ValueError("RabbitMQ bus needs INTERLINK['EVENT_BUS']['RABBITMQ_URL']")
        self.urls = rabbitmq_urls(url)
        self.exchange = exchange
        self.topology = Topology(
            exchange, queue_type, max_deliveries, retry_backoff, quorum_group_size
        )
        self.prefetch = prefetch
        self.heartbeat = heartbeat
        self.publish_timeout = publish_timeout
        self.reconnect_backoff_max = reconnect_backoff_max
        self.max_deliveries = max_deliveries
        self.consume_window = consume_window
        self.consume_window_wait = consume_window_wait
        self._confirming: ConfirmingPublisher | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A bus from the EVENT_BUS settings, every key present (backends.bus_settings())."""
        return cls(
            config["RABBITMQ_URL"],
            exchange=str(config["RABBITMQ_EXCHANGE"]),
            prefetch=int(config["RABBITMQ_PREFETCH"]),
            queue_type=str(config["RABBITMQ_QUEUE_TYPE"]),
            heartbeat=int(config["RABBITMQ_HEARTBEAT"]),
            publish_timeout=float(config["PUBLISH_TIMEOUT"]),
            reconnect_backoff_max=float(config["RECONNECT_BACKOFF_MAX"]),
            max_deliveries=int(config["MAX_DELIVERIES"]),
            retry_backoff=float(config["RETRY_BACKOFF"]),
            consume_window=int(config["CONSUME_WINDOW"]),
            consume_window_wait=float(config["CONSUME_WINDOW_WAIT"]),
            quorum_group_size=config["RABBITMQ_QUORUM_INITIAL_GROUP_SIZE"],
        )

    # -- connections -------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The configured node(s), for logs (never the credentials)."""
        return describe(self.urls)

    def _parameters(self, role: str) -> list[pika.URLParameters]:
        """Connection parameters, one per node in a fresh random order; `role` names the
        connection in the management UI."""
        nodes = connection_parameters(self.urls)
        for params in nodes:
            params.blocked_connection_timeout = self.publish_timeout
            params.socket_timeout = 5
            params.client_properties = {"connection_name": f"interlink-{role}-{self.exchange}"}
        return nodes

    def connect(self) -> BlockingConnection:
        """A connection to the first node (of a fresh shuffle) that answers."""
        nodes = self._parameters("events")
        for params in nodes:
            params.heartbeat = self.heartbeat
        return BlockingConnection(nodes)

    def _publisher(self) -> ConfirmingPublisher:
        if self._confirming is None:
            self._confirming = ConfirmingPublisher(
                lambda: self._parameters("publisher"),
                self.exchange,
                timeout=min(self.publish_timeout, 30.0),
            )
        return self._confirming

    def close(self) -> None:
        if self._confirming is not None:
            self._confirming.close()

    # -- publishing --------------------------------------------------------------------

    @staticmethod
    def _properties(envelope: Envelope) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=envelope.event_id,
            correlation_id=envelope.correlation_id,
            type=envelope.event_type,
            app_id=envelope.producer,
            # the W3C trace context beside the version (contracts/events/asyncapi.yaml)
            headers={"version": envelope.version, **envelope.trace},
        )

    def publish(self, envelope: Envelope) -> None:
        self.publish_many([envelope])

    def publish_results(
        self, envelopes: Sequence[Envelope]
    ) -> tuple[list[str | None], BusUnavailable | None]:
        """Publish the batch at once and wait for all its confirms together (pipelined)."""
        outcomes, encoded = encode_batch(envelopes)
        if encoded:
            batch = [Outgoing(e.event_type, body, self._properties(e)) for _, e, body in encoded]
            try:
                sent = self._send(batch)
            except BusUnavailable as exc:
                return [], exc
            for (index, _, _), outcome in zip(encoded, sent, strict=True):
                outcomes[index] = outcome
        return outcomes, None

    def publish_raw(
        self, routing_key: str, body: bytes, properties: pika.BasicProperties | None = None
    ) -> None:
        """Publish bytes unchecked, with confirms, mandatory and reconnects (poison tests)."""
        properties = properties or pika.BasicProperties(delivery_mode=2)
        (outcome,) = self._send([Outgoing(routing_key, body, properties)])
        if outcome is not None:
            raise PublishError(outcome)

    def _send(self, batch: list[Outgoing]) -> list[str | None]:
        """Per message None (confirmed) or why it was refused; after a lost connection only the
        messages not answered yet are sent again (on whichever node answers)."""
        deadline = time.monotonic() + self.publish_timeout
        attempt = 0
        outcomes: dict[int, str | None] = {}
        while True:
            remaining = [index for index in range(len(batch)) if index not in outcomes]
            publisher = self._publisher()
            try:
                sent = publisher.publish([batch[index] for index in remaining])
            except PUBLISH_RETRYABLE as exc:
                # What the broker confirmed is kept; the rest may or may not have reached it:
                # sending it again is at-least-once, and consumers deduplicate on event_id.
                answered = publisher.answered([batch[index] for index in remaining])
                outcomes.update({remaining[i]: outcome for i, outcome in answered.items()})
                publisher.close()
                attempt = 1 if answered else attempt + 1  # progress: fail over at once again
                if time.monotonic() >= deadline:
                    raise BusUnavailable(
                        f"RabbitMQ at {self.where} unreachable for "
                        f"{self.publish_timeout:.0f}s: {exc}"
                    ) from exc
                delay = failover_delay(attempt, len(self.urls), self.reconnect_backoff_max)
                logger.warning(
                    "publish to %s failed (%s), %d of %d unconfirmed, reconnecting in %.1fs",
                    self.where,
                    exc,
                    len(batch) - len(outcomes),
                    len(batch),
                    delay,
                )
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                continue
            outcomes.update(zip(remaining, sent, strict=True))
            return [outcomes[index] for index in range(len(batch))]

    # -- topology (topology.py) and dead letters ---------------------------------------

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        connection = self.connect()
        try:
            self.topology.declare(connection.channel(), list(event_types), self._group(group))
        finally:
            connection.close()

    def dead_letter_box(self, group: str | None = None) -> RabbitMQDeadLetters:
        return RabbitMQDeadLetters(self.connect, self.topology, self._group(group))

    # -- consuming (subscriber.py) -----------------------------------------------------

    def _consume(self, run: Consumption) -> None:
        Subscriber(self, run).consume()
