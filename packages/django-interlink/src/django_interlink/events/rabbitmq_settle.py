"""What becomes of one RabbitMQ delivery once the dispatcher has decided its `Outcome`.

    ACK    basic.ack
    RETRY  publish to <group>.retry.<n> with `x-attempt: n + 1` (confirmed), then basic.ack
    DEAD   publish to <group>.dead with `x-dead-reason` and `x-dead-letter-id` (confirmed), then
           basic.ack
    DEFER  nothing here: the consumer holds the delivery unacked until its breaker closes

Every failure is appended to the `x-failures` header (time, reason, attempt), the history that
`manage.py dead_letters show` prints.

The channel is never held while a message waits: the retry queue's TTL brings it back to its work
queue (rabbitmq_topology.py). Publish, then ack: a crash in between leaves the original unacked,
so it is delivered again (the inbox makes that harmless); nothing is acked before its copy is safe.

A window (CONSUME_WINDOW > 1) is settled after its commit by `settle_window`: the failures one by
one as above, then every ACK at once with `basic.ack(last tag, multiple=True)` (one by one when
the window deferred some: a multiple ack would take the held ones with it).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions as pe
from pika.adapters.blocking_connection import BlockingChannel

from .budget import ConsumeBudget
from .consumer import Dispatcher, Outcome, Result
from .dead_letters import bounded, failure
from .rabbitmq_topology import RETRY_QUEUE_HEADER, Topology

logger = logging.getLogger("django_interlink.events.rabbitmq")

# The attempt a delivery is (1 when absent): we set it on every retry, the broker never does.
ATTEMPT_HEADER = "x-attempt"
DEAD_REASON_HEADER = "x-dead-reason"
# The dead letter's own id (the box's handle on it), and its failures so far, oldest first.
DEAD_LETTER_ID_HEADER = "x-dead-letter-id"
FAILURES_HEADER = "x-failures"
# How often a dead letter was replayed (manage.py dead_letters replay) before this copy.
REPLAYS_HEADER = "x-replays"


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: BlockingChannel
    method: Any  # pika.spec.Basic.Deliver
    properties: pika.BasicProperties
    body: bytes
    attempt: int


# Deliveries a consumer holds unacked while its breaker is open, in arrival order.
Held = deque[tuple[Delivery, str]]


def attempt_of(properties: pika.BasicProperties) -> int:
    """Which attempt this delivery is, from the header our retries set (1 when absent)."""
    value = (properties.headers or {}).get(ATTEMPT_HEADER, 1)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def settle(
    delivery: Delivery, result: Result, topology: Topology, *, group: str, queue: str
) -> None:
    """Carry out `result` for a delivery from the work queue `queue` of `group`."""
    if result.outcome is Outcome.DEFER:
        raise ValueError("a deferred delivery is held by the consumer, not settled")
    if result.outcome is Outcome.ACK:
        delivery.channel.basic_ack(delivery.method.delivery_tag)
    elif result.outcome is Outcome.RETRY:
        _retry(delivery, result.reason, topology, group=group, queue=queue)
    else:
        _dead_letter(delivery, result.reason, topology, group=group)


def deliver(
    delivery: Delivery,
    dispatcher: Dispatcher,
    topology: Topology,
    *,
    group: str,
    queue: str,
    budget: ConsumeBudget,
) -> bool:
    """Dispatch and settle one delivery; False if it was deferred (the caller holds it)."""
    result = dispatcher.dispatch(
        delivery.body, delivery_count=delivery.attempt, headers=delivery.properties.headers
    )
    if result.outcome is Outcome.DEFER:
        return False
    settle(delivery, result, topology, group=group, queue=queue)
    if result.outcome is not Outcome.RETRY:
        budget.settled_one()
    budget.mark_active()
    return True


def release(
    held: Held,
    dispatcher: Dispatcher,
    topology: Topology,
    *,
    group: str,
    stop: threading.Event,
    budget: ConsumeBudget,
) -> None:
    """Deliver the held deliveries in order while the dispatcher's breaker allows it."""
    while held and not (stop.is_set() or budget.exhausted) and dispatcher.breaker.allows():
        delivery, queue = held[0]
        if not deliver(delivery, dispatcher, topology, group=group, queue=queue, budget=budget):
            return  # deferred again: still first in line
        held.popleft()


def settle_window(
    window: Sequence[tuple[Delivery, str]],
    results: Sequence[Result],
    topology: Topology,
    *,
    group: str,
) -> None:
    """Carry out the results of a committed window of (delivery, its work queue), in order.

    The failures first, each forwarded and acked on its own; then one multiple ack up to the
    last ACKed tag, which covers exactly the window's other deliveries: every earlier window is
    settled, and what was prefetched after this one has higher tags.
    """
    last_ack: int | None = None
    deferred = any(result.outcome is Outcome.DEFER for result in results)
    for (delivery, queue), result in zip(window, results, strict=True):
        if result.outcome is Outcome.DEFER:
            continue  # held by the consumer
        if result.outcome is Outcome.ACK and not deferred:
            last_ack = delivery.method.delivery_tag
        else:
            settle(delivery, result, topology, group=group, queue=queue)
    if last_ack is not None:
        window[0][0].channel.basic_ack(last_ack, multiple=True)


def _retry(delivery: Delivery, reason: str, topology: Topology, *, group: str, queue: str) -> None:
    """Park the message in the retry queue of its attempt; refused there, dead-letter it."""
    retry_queue = topology.retry_queue(group, delivery.attempt)
    headers = {
        ATTEMPT_HEADER: delivery.attempt + 1,
        RETRY_QUEUE_HEADER: retry_queue,
        "x-retry-reason": reason[:1000],
        FAILURES_HEADER: _failures(delivery, reason),
    }
    try:
        # The routing key is the way back: once the TTL runs out, the default exchange routes
        # the message to the queue of that name.
        _publish(delivery, topology.retry_exchange, queue, headers)
    except (pe.UnroutableError, pe.NackError):
        logger.error("retry queue %s refused a message; dead-lettering it", retry_queue)
        reason = f"retry queue {retry_queue} refused it after: {reason}"
        _dead_letter(delivery, reason, topology, group=group)
        return
    delivery.channel.basic_ack(delivery.method.delivery_tag)


def _dead_letter(delivery: Delivery, reason: str, topology: Topology, *, group: str) -> None:
    """Forward to the DLQ with the reason, then ack; if that fails, reject so the broker
    dead-letters it through the work queue's x-dead-letter-exchange."""
    headers = {
        DEAD_REASON_HEADER: reason[:1000],
        ATTEMPT_HEADER: delivery.attempt,
        "x-deliveries": delivery.attempt,
        DEAD_LETTER_ID_HEADER: uuid.uuid4().hex,
        FAILURES_HEADER: _failures(delivery, reason),
    }
    dead = topology.dead_letter_queue(group)
    try:
        _publish(delivery, topology.dead_letter_exchange, dead, headers)
    except (pe.UnroutableError, pe.NackError):
        logger.error("dead-letter queue refused a message; rejecting it to the DLX instead")
        delivery.channel.basic_nack(delivery.method.delivery_tag, requeue=False)
        return
    delivery.channel.basic_ack(delivery.method.delivery_tag)


def _failures(delivery: Delivery, reason: str) -> list[dict[str, Any]]:
    """The delivery's failure history with this one appended."""
    earlier = (delivery.properties.headers or {}).get(FAILURES_HEADER) or []
    return bounded([*earlier, failure(reason, delivery.attempt)])


def _publish(delivery: Delivery, exchange: str, routing_key: str, headers: dict[str, Any]) -> None:
    """Publish the message on, persistent and mandatory, with its headers plus `headers`.

    The channel is in confirm mode: this returns once the broker has the copy, and raises
    UnroutableError or NackError if it refused it.
    """
    method, properties = delivery.method, delivery.properties
    merged = dict(properties.headers or {})
    # Where it was first published: a retried message comes back through the default exchange.
    merged.setdefault("x-original-routing-key", method.routing_key)
    merged.setdefault("x-original-exchange", method.exchange)
    merged.update(headers)
    forwarded = persistent_copy(properties, headers=merged)
    delivery.channel.basic_publish(exchange, routing_key, delivery.body, forwarded, mandatory=True)


def persistent_copy(
    properties: pika.BasicProperties, *, headers: dict[str, Any]
) -> pika.BasicProperties:
    """A message's properties for a copy of it sent on (a retry, a dead letter, a replay):
    persistent, the same ids and type, these headers."""
    return pika.BasicProperties(
        content_type=properties.content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=properties.message_id,
        correlation_id=properties.correlation_id,
        type=properties.type,
        app_id=properties.app_id,
        headers=headers,
    )
