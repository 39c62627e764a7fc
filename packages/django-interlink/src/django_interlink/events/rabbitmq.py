"""RabbitMQ bus (pika): confirmed, mandatory, persistent publishing; quorum queues with a DLQ.

The exchanges and queues it declares are drawn in rabbitmq_topology.py: one durable queue per
consuming service and event type, retry queues with a TTL, and one dead-letter queue per service.
A failed message is never held while it waits: it is republished (confirmed) to the retry queue
of its attempt, then acked, and comes back on its own when its TTL runs out. A deferred one (our
infrastructure failed, infrastructure.py) is the exception: held unacked, uncounted, with what
arrives after it, until the dispatcher's breaker lets the consumer try again; the prefetch
bounds what the broker hands a paused consumer. `dead_letter_box(group)` reads the dead-letter
queue without consuming it (rabbitmq_dead_letters.py).

A bus object holds one long-lived connection and channel for publishing; `get_bus()` keeps one
bus per thread (pika connections are not thread-safe). Publishing returns once the broker has
confirmed; a batch (`publish_many`, the outbox relay) is sent at once and its confirms awaited
together (rabbitmq_publisher.py). An unroutable event (no queue bound) raises `PublishError`
instead of vanishing. Both publishing and consuming reconnect with capped exponential backoff
when the broker goes away.

RABBITMQ_URL may name several nodes of a cluster (rabbitmq_nodes.py): every connection goes to
the first node of a fresh shuffle that answers, and a client that lost its node tries the others
at once. A lost publisher sends again only what was not confirmed; a consumer never acks a
delivery of a lost connection on the new one (its deliveries die with their channel, the broker
requeues them, and the inbox drops what was applied already).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

import pika
import pika.exceptions as pe
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from ..exceptions import BusUnavailable, EventContractViolation, PublishError
from .budget import ConsumeBudget
from .bus import EventBus
from .consumer import Dispatcher, Outcome
from .contract import encode_event, get_contract, max_event_bytes
from .envelope import Envelope
from .handlers import HandlerRegistry
from .rabbitmq_dead_letters import RabbitMQDeadLetters
from .rabbitmq_nodes import connection_parameters, describe, failover_delay, rabbitmq_urls
from .rabbitmq_publisher import ConfirmingPublisher, Outgoing, PublisherLost
from .rabbitmq_settle import Delivery, Held, attempt_of, deliver, release, settle_window
from .rabbitmq_topology import Topology
from .window import Window

logger = logging.getLogger("django_interlink.events.rabbitmq")

# Errors after which a fresh connection may succeed (broker restarting, network blip).
RECONNECTABLE: tuple[type[BaseException], ...] = (
    pe.AMQPConnectionError,
    pe.ChannelWrongStateError,
    pe.ConnectionWrongStateError,
    ConnectionError,
    OSError,
)

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

    def _connect(self) -> BlockingConnection:
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
        outcomes: list[str | None] = [None] * len(envelopes)
        batch: list[Outgoing] = []
        positions: list[int] = []
        contract, limit = get_contract(), max_event_bytes()
        for index, envelope in enumerate(envelopes):
            try:
                body = encode_event(envelope, contract=contract, limit=limit)
            except EventContractViolation as exc:
                outcomes[index] = str(exc)
                continue
            batch.append(Outgoing(envelope.event_type, body, self._properties(envelope)))
            positions.append(index)
        if batch:
            try:
                sent = self._send(batch)
            except BusUnavailable as exc:
                return [], exc
            for index, outcome in zip(positions, sent, strict=True):
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

    # -- topology (rabbitmq_topology.py) and dead letters ----------------------------

    def declare(self, event_types: Sequence[str], *, group: str | None = None) -> None:
        connection = self._connect()
        try:
            self.topology.declare(connection.channel(), list(event_types), self._group(group))
        finally:
            connection.close()

    def dead_letter_box(self, group: str | None = None) -> RabbitMQDeadLetters:
        return RabbitMQDeadLetters(self._connect, self.topology, self._group(group))

    # -- consuming ---------------------------------------------------------------------

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
        stop = stop or threading.Event()
        budget = ConsumeBudget(max_messages=max_messages, idle_timeout=idle_timeout)
        breaker = dispatcher.breaker
        attempt = 0
        while not stop.is_set() and not budget.exhausted:
            connection: BlockingConnection | None = None
            held: Held = deque()  # unacked: requeued by the broker if the connection goes
            try:
                connection = self._connect()
                channel = connection.channel()
                channel.confirm_delivery()  # dead letters we forward are confirmed too
                channel.basic_qos(prefetch_count=self.prefetch)
                window: Window[tuple[Delivery, str]] = Window(
                    self.consume_window, self.consume_window_wait, budget
                )
                for queue in self.topology.declare(channel, types, group):
                    if window.size == 1:
                        on_message = self._on_message(dispatcher, queue, group, stop, budget, held)
                    else:
                        on_message = self._collector(window, queue, stop)
                    channel.basic_consume(queue, on_message_callback=on_message)
                node = f"{connection._impl.params.host}:{connection._impl.params.port}"
                if attempt:
                    logger.info("reconnected to %s after %d attempt(s)", node, attempt)
                attempt = 0
                logger.info("consuming %s from %s as %s", ", ".join(types), node, group)
                budget.mark_active()
                while not stop.is_set() and not budget.exhausted:
                    paused = breaker.remaining()  # > 0 while the breaker waits
                    limit = min(0.5, paused) if paused else window.time_limit(0.5)
                    connection.process_data_events(time_limit=limit)
                    release(held, dispatcher, self.topology, group=group, stop=stop, budget=budget)
                    while (
                        window.due(stop)
                        and not (stop.is_set() or budget.exhausted)
                        and breaker.allows()
                    ):
                        self._settle_window(dispatcher, window, group, stop)
                    if not (window.pending or held) and budget.idle_expired():
                        break
                if window.pending and not budget.exhausted and breaker.allows():
                    self._settle_window(dispatcher, window, group, stop)
            except RECONNECTABLE as exc:
                attempt += 1
                delay = failover_delay(attempt, len(self.urls), self.reconnect_backoff_max)
                logger.warning(
                    "consumer lost %s (%s), reconnecting in %.1fs",
                    self.where,
                    type(exc).__name__,
                    delay,
                )
                stop.wait(delay)
            finally:
                if connection is not None and connection.is_open:
                    try:
                        # Unacked prefetched messages go back to the queue for someone else.
                        connection.close()
                    except Exception:
                        logger.debug("error closing consumer connection", exc_info=True)
        return budget.settled

    @staticmethod
    def _collector(
        window: Window[tuple[Delivery, str]], queue: str, stop: threading.Event
    ) -> Callable[[BlockingChannel, Any, pika.BasicProperties, bytes], None]:
        def on_message(
            channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
        ) -> None:
            if stop.is_set() or window.budget.exhausted:
                # Prefetched but not taken: left unacked, it is requeued when we close.
                return
            attempt = attempt_of(properties)
            window.add((Delivery(channel, method, properties, body, attempt), queue))

        return on_message

    def _settle_window(
        self,
        dispatcher: Dispatcher,
        window: Window[tuple[Delivery, str]],
        group: str,
        stop: threading.Event,
    ) -> None:
        """Decide the next window in one transaction (consumer.py), then settle it once
        committed; stopping, what was not decided stays unacked (requeued when the connection
        closes); what was deferred goes back to the window's front, unacked, for the next try."""
        taken = window.take()
        results = dispatcher.dispatch_window(
            [(d.body, d.attempt) for d, _ in taken],
            stop=stop,
            headers=[d.properties.headers for d, _ in taken],
        )
        settle_window(taken[: len(results)], results, self.topology, group=group)
        window.put_back(
            [
                item
                for item, result in zip(taken, results, strict=False)
                if result.outcome is Outcome.DEFER
            ]
        )
        for result in results:
            if result.outcome not in (Outcome.RETRY, Outcome.DEFER):
                window.budget.settled_one()
        window.budget.mark_active()

    def _on_message(
        self,
        dispatcher: Dispatcher,
        queue: str,
        group: str,
        stop: threading.Event,
        budget: ConsumeBudget,
        held: Held,
    ) -> Callable[[BlockingChannel, Any, pika.BasicProperties, bytes], None]:
        def on_message(
            channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
        ) -> None:
            if stop.is_set() or budget.exhausted:
                # Already prefetched but not started: leave it unacked, it is requeued on close.
                return
            budget.mark_active()
            delivery = Delivery(channel, method, properties, body, attempt_of(properties))
            if held or not dispatcher.breaker.allows():
                held.append((delivery, queue))  # behind what is held, in order
                return
            if not deliver(
                delivery, dispatcher, self.topology, group=group, queue=queue, budget=budget
            ):
                held.append((delivery, queue))

        return on_message
