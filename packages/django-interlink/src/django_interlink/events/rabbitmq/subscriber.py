"""One `RabbitMQBus.consume()` call at work: connect, consume the group's queues, reconnect.

Each delivery is dispatched as it arrives (settle.py carries out its outcome), or, with
CONSUME_WINDOW = N > 1, collected into windows of up to N decided in one transaction and settled
at once. A deferred delivery (our infrastructure failed, infrastructure.py) is held unacked,
uncounted, with what arrives after it, until the dispatcher's breaker lets the consumer try
again; the prefetch bounds what the broker hands a paused consumer. When the connection goes,
its unacked deliveries die with their channel (the broker requeues them, and the inbox drops
what was applied already): the subscriber never acks them on the new connection, which goes
to another node of a cluster at once (nodes.py).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from ..bus import Consumption
from ..consumer import Outcome
from ..trace_context import quiet
from ..window import Window
from .errors import RECONNECTABLE
from .nodes import failover_delay
from .settle import Delivery, Held, attempt_of, deliver, release, settle_window
from .topology import Topology

logger = logging.getLogger("django_interlink.events.rabbitmq")

OnMessage = Callable[[BlockingChannel, Any, pika.BasicProperties, bytes], None]


class SubscribingBus(Protocol):
    """What a subscriber needs of its bus (RabbitMQBus)."""

    topology: Topology
    prefetch: int
    consume_window: int
    consume_window_wait: float
    reconnect_backoff_max: float
    urls: list[str]

    @property
    def where(self) -> str: ...

    def connect(self) -> BlockingConnection: ...


class Subscriber:
    """The consumer of one `consume()` call: its connection, and what it holds unacked."""

    def __init__(self, bus: SubscribingBus, run: Consumption) -> None:
        self.bus = bus
        self.run = run
        self.topology = bus.topology

    @quiet  # the bus's plumbing, all of it; the handlers run traced (trace_context.processing)
    def consume(self) -> None:
        """Consume until the run stops, reconnecting (with backoff) whenever the broker goes."""
        bus, run = self.bus, self.run
        dispatcher, group, stop, budget = run.dispatcher, run.group, run.stop, run.budget
        breaker = dispatcher.breaker
        attempt = 0
        while run.running:
            connection: BlockingConnection | None = None
            held: Held = deque()  # unacked: requeued by the broker if the connection goes
            try:
                connection = bus.connect()
                channel = connection.channel()
                channel.confirm_delivery()  # dead letters we forward are confirmed too
                channel.basic_qos(prefetch_count=bus.prefetch)
                window: Window[tuple[Delivery, str]] = Window(
                    bus.consume_window, bus.consume_window_wait, budget
                )
                for queue in self.topology.declare(channel, run.types, group):
                    if window.size == 1:
                        on_message = self._on_message(queue, held)
                    else:
                        on_message = self._collector(window, queue)
                    channel.basic_consume(queue, on_message_callback=on_message)
                run.listening()
                node = f"{connection._impl.params.host}:{connection._impl.params.port}"
                if attempt:
                    logger.info("reconnected to %s after %d attempt(s)", node, attempt)
                attempt = 0
                logger.info("consuming %s from %s as %s", ", ".join(run.types), node, group)
                budget.mark_active()
                while run.running:
                    paused = breaker.remaining()  # > 0 while the breaker waits
                    limit = min(0.5, paused) if paused else window.time_limit(0.5)
                    connection.process_data_events(time_limit=limit)
                    release(held, dispatcher, self.topology, group=group, stop=stop, budget=budget)
                    while window.due(stop) and run.running and breaker.allows():
                        self._settle_window(window)
                    if not (window.pending or held) and budget.idle_expired():
                        break
                if window.pending and not budget.exhausted and breaker.allows():
                    self._settle_window(window)
            except RECONNECTABLE as exc:
                attempt += 1
                delay = failover_delay(attempt, len(bus.urls), bus.reconnect_backoff_max)
                logger.warning(
                    "consumer lost %s (%s), reconnecting in %.1fs",
                    bus.where,
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

    def _collector(self, window: Window[tuple[Delivery, str]], queue: str) -> OnMessage:
        stop = self.run.stop

        def on_message(
            channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes
        ) -> None:
            if stop.is_set() or window.budget.exhausted:
                # Prefetched but not taken: left unacked, it is requeued when we close.
                return
            attempt = attempt_of(properties)
            window.add((Delivery(channel, method, properties, body, attempt), queue))

        return on_message

    def _settle_window(self, window: Window[tuple[Delivery, str]]) -> None:
        """Decide the next window in one transaction (consumer.py), then settle it once
        committed; stopping, what was not decided stays unacked (requeued when the connection
        closes); what was deferred goes back to the window's front, unacked, for the next try."""
        taken = window.take()
        results = self.run.dispatcher.dispatch_window(
            [(d.body, d.attempt) for d, _ in taken],
            stop=self.run.stop,
            headers=[d.properties.headers for d, _ in taken],
        )
        settle_window(taken[: len(results)], results, self.topology, group=self.run.group)
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

    def _on_message(self, queue: str, held: Held) -> OnMessage:
        dispatcher, group, stop, budget = (
            self.run.dispatcher,
            self.run.group,
            self.run.stop,
            self.run.budget,
        )

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
