"""A confirming AMQP publisher that pipelines: send a batch, then wait once for its confirms.

pika's BlockingChannel in confirm mode waits for each confirm before the next publish, so a
batch costs one broker round trip per event. This drives pika's public asynchronous adapter
(SelectConnection) synchronously instead: every message of a batch goes out at once, mandatory,
and the call returns when the broker has confirmed (or returned, or nacked) each of them.
The result is per message, so the outbox relay can mark exactly the confirmed rows as sent.

With several nodes (a cluster) each connection goes to the first node of a fresh shuffle that
answers. When the connection is lost mid-batch, `answered()` says which messages the broker had
already confirmed (or refused): the caller sends only the others again, on the next node.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel

from .publish_outcomes import Declined

logger = logging.getLogger("django_interlink.events.rabbitmq")


# Heartbeats only flow while the ioloop runs (during a publish), so this connection is opened
# without them (the broker would drop an idle publisher otherwise); instead a connection that
# has been idle this long is replaced before use.
MAX_IDLE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


class PublisherLost(Exception):
    """The connection or channel went away (or timed out) before every confirm arrived."""


class ConfirmingPublisher:
    """One connection and channel, kept open between batches; not thread-safe (one per thread)."""

    def __init__(
        self,
        parameters: pika.URLParameters | Callable[[], Sequence[pika.URLParameters]],
        exchange: str,
        timeout: float,
    ) -> None:
        # a callable gives the nodes to try, in order, for each new connection (rabbitmq_nodes)
        self._nodes: Callable[[], Sequence[pika.URLParameters]] = (
            parameters if callable(parameters) else lambda: [parameters]
        )
        self.exchange = exchange
        self.timeout = timeout
        self._connection: SelectConnection | None = None
        self._channel: Channel | None = None
        self._ready = False
        self._error: str | None = None
        self._next_tag = 0
        # delivery tag -> index in the batch being confirmed
        self._unconfirmed: dict[int, int] = {}
        self._published = 0  # messages of the batch handed to the channel
        self._nacked: set[int] = set()
        self._returned_ids: set[str] = set()
        self._last_used = time.monotonic()
        self.max_idle = MAX_IDLE_SECONDS
        self.parameters: pika.URLParameters | None = None

    # -- driving the ioloop ------------------------------------------------------------

    def _run_until(self, done: Callable[[], bool], what: str) -> None:
        """Run the ioloop until `done()` is true, the connection fails, or the timeout."""
        assert self._connection is not None
        ioloop = self._connection.ioloop
        timed_out: list[bool] = []

        def on_timeout() -> None:
            timed_out.append(True)
            ioloop.stop()

        timer = ioloop.call_later(self.timeout, on_timeout)
        try:
            while not done() and self._error is None and not timed_out:
                ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
        if self._error is not None:
            raise PublisherLost(f"{what}: {self._error}")
        if timed_out and not done():
            self._error = f"no answer from the broker within {self.timeout:.0f}s"
            raise PublisherLost(f"{what}: {self._error}")

    def _stop_loop(self) -> None:
        if self._connection is not None:
            self._connection.ioloop.stop()

    # -- connection lifecycle -----------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return (
            self._ready
            and self._error is None
            and self._channel is not None
            and self._channel.is_open
            and self._connection is not None
            and self._connection.is_open
        )

    @property
    def node(self) -> str | None:
        """host:port of the node this publisher is connected to (None when not connected)."""
        if not self.is_open or self.parameters is None:
            return None
        return f"{self.parameters.host}:{self.parameters.port}"

    def open(self) -> None:
        """Connect to the first node that answers, in the order the nodes come."""
        errors = []
        for parameters in self._nodes():
            try:
                self._open(parameters)
            except PublisherLost as exc:
                errors.append(str(exc))
                continue
            return
        raise PublisherLost("; ".join(errors) or "no RabbitMQ node to connect to")

    def _open(self, parameters: pika.URLParameters) -> None:
        self.close()
        self._error = None
        self._ready = False
        self._next_tag = 0
        parameters.heartbeat = 0
        self.parameters = parameters
        self._connection = SelectConnection(
            parameters,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )
        try:
            where = f"{parameters.host}:{parameters.port}"
            self._run_until(lambda: self._ready, f"connecting to {where}")
        except PublisherLost:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._ready = False
        if connection is None:
            return
        if connection.is_open:
            try:
                connection.close()
                # let the close handshake finish so the broker sees a clean close
                deadline_timer = connection.ioloop.call_later(2, connection.ioloop.stop)
                if not connection.is_closed:
                    connection.ioloop.start()
                connection.ioloop.remove_timeout(deadline_timer)
            except Exception:
                logger.debug("error while closing the publisher connection", exc_info=True)
        try:
            connection.ioloop.close()
        except Exception:
            logger.debug("error while closing the publisher ioloop", exc_info=True)

    def _on_connection_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: SelectConnection, error: BaseException | str) -> None:
        self._error = f"cannot connect: {error if isinstance(error, str) else type(error).__name__}"
        self._stop_loop()

    def _on_connection_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        self._error = f"connection closed: {reason!r}"
        self._channel = None
        connection.ioloop.stop()  # also when close() already let go of self._connection

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=self._on_select_ok)

    def _on_select_ok(self, frame: object) -> None:
        assert self._channel is not None
        self._channel.exchange_declare(
            self.exchange, exchange_type="topic", durable=True, callback=self._on_declared
        )

    def _on_declared(self, frame: object) -> None:
        self._ready = True
        self._stop_loop()

    def _on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        self._error = f"channel closed: {reason!r}"
        self._stop_loop()

    # -- confirms and returns -----------------------------------------------------------

    def _on_return(
        self,
        channel: Channel,
        method: object,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        # RabbitMQ sends basic.return before the basic.ack of the same message.
        if properties.message_id:
            self._returned_ids.add(properties.message_id)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = int(method.delivery_tag)
        nack = isinstance(method, pika.spec.Basic.Nack)
        tags = [t for t in self._unconfirmed if t <= tag] if method.multiple else [tag]
        for t in tags:
            index = self._unconfirmed.pop(t, None)
            if index is not None and nack:
                self._nacked.add(index)
        if not self._unconfirmed:
            self._stop_loop()

    # -- publishing --------------------------------------------------------------------

    def publish(self, batch: Sequence[Outgoing]) -> list[str | None]:
        """Publish every message; per message None (confirmed) or why it was refused.

        Raises `PublisherLost` if the connection failed before all confirms arrived (then any
        message of the batch may or may not have been stored by the broker).
        """
        # A connection silent for long may have been dropped by something in between (NAT,
        # load balancer) without a word: start afresh rather than wait for a confirm timeout.
        self._unconfirmed.clear()
        self._nacked.clear()
        self._returned_ids.clear()
        self._published = 0
        idle = time.monotonic() - self._last_used
        if not self.is_open or idle > self.max_idle:
            self.open()
        assert self._channel is not None
        for message in batch:
            properties = message.properties
            if not properties.message_id:
                properties.message_id = str(uuid.uuid4())
        for index, message in enumerate(batch):
            self._channel.basic_publish(
                self.exchange, message.routing_key, message.body, message.properties, mandatory=True
            )
            self._next_tag += 1
            self._unconfirmed[self._next_tag] = index
            self._published += 1
        self._run_until(lambda: not self._unconfirmed, "waiting for confirms")
        self._last_used = time.monotonic()
        outcomes = [self._outcome(index, message) for index, message in enumerate(batch)]
        if self._nacked:
            # A channel remembers each quorum queue's members as the queue's record named them
            # at its first publish there. When that record still named a dead leader (a node
            # killed a moment before), RabbitMQ 3.10 nacks every later publish on the channel
            # until that node is back, though the queue has a new leader: drop the channel, the
            # next batch asks afresh (docs/clusters.md, "A nack is the channel's, not the queue's").
            self.close()
        return outcomes

    def _outcome(self, index: int, message: Outgoing) -> str | None:
        """None (confirmed) or why the broker refused message `index` of an answered batch."""
        if message.properties.message_id in self._returned_ids:
            return f"{message.routing_key}: no queue is bound for this event type"
        if index in self._nacked:
            return Declined(f"{message.routing_key}: the broker nacked the event")
        return None

    def answered(self, batch: Sequence[Outgoing]) -> dict[int, str | None]:
        """After `publish(batch)` raised PublisherLost: the messages the broker answered before
        the loss (index -> outcome). The rest may or may not be stored: send them again."""
        pending = set(self._unconfirmed.values())
        return {
            index: self._outcome(index, batch[index])
            for index in range(self._published)
            if index not in pending
        }
