"""The brokers read and written with their plain clients (pika, redis-py), not with our bus:
what these tests see is what any other consumer of the document would see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
import redis
from pika.adapters.blocking_connection import BlockingChannel

from integration_tests.asyncapi_live.document import REDIS_ENVELOPE_FIELD


@dataclass(frozen=True)
class Delivered:
    """One message as a broker holds it: where it went, its transport headers, its body."""

    destination: str  # the routing key, or the stream's name
    headers: dict[str, Any]  # AMQP properties and application headers, or the entry's fields
    body: bytes | None  # None: a Redis entry without the documented envelope field


# --- RabbitMQ -----------------------------------------------------------------------------------


@contextmanager
def amqp_tap(url: str, exchange: str) -> Iterator[BlockingChannel]:
    """A channel with an exclusive queue (named after the exchange) bound to the exchange with
    `#`: it receives every message, whatever routing key it was given."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(f"{exchange}.tap", exclusive=True)
        channel.queue_bind(f"{exchange}.tap", exchange, routing_key="#")
        yield channel
    finally:
        connection.close()


def amqp_taken(channel: BlockingChannel, queue: str) -> list[Delivered]:
    """Every message in `queue`, acknowledged."""
    taken: list[Delivered] = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return taken
        headers = {
            "content_type": properties.content_type,
            "correlation_id": properties.correlation_id,
            "message_id": properties.message_id,
            "delivery_mode": properties.delivery_mode,
            **(properties.headers or {}),
        }
        taken.append(Delivered(method.routing_key, headers, body))


def amqp_publish(url: str, exchange: str, routing_key: str, payload: dict[str, Any]) -> None:
    """Publish an event body as a producer following the document would: JSON, persistent, its
    id and correlation id in the AMQP properties."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(payload.get("event_id")),
            headers={"version": payload.get("version")},
        )
        channel.basic_publish(exchange, routing_key, json.dumps(payload).encode(), properties)
    finally:
        connection.close()


# --- Redis --------------------------------------------------------------------------------------


def redis_client(url: str) -> Any:
    """A plain client; bytes in, bytes out (redis-py's types for replies are too wide to use)."""
    return redis.Redis.from_url(url)


def redis_entries(client: Any, prefix: str) -> list[Delivered]:
    """Every entry of every stream under `prefix:` (dead letters aside)."""
    taken = []
    for key in sorted(client.scan_iter(match=f"{prefix}:*", _type="STREAM")):
        stream = key.decode()
        if stream.startswith(f"{prefix}:dead:"):
            continue
        for _, fields in client.xrange(stream):
            decoded = {k.decode(): v for k, v in fields.items()}
            body = decoded.pop(REDIS_ENVELOPE_FIELD, None)
            headers = {k: v.decode(errors="replace") for k, v in decoded.items()}
            taken.append(Delivered(stream.removeprefix(f"{prefix}:"), headers, body))
    return taken


def redis_publish(client: Any, prefix: str, address: str, payload: dict[str, Any]) -> None:
    """XADD an event body as a producer following the document would."""
    fields = {
        REDIS_ENVELOPE_FIELD: json.dumps(payload).encode(),
        "event_id": str(payload.get("event_id")),
        "correlation_id": str(payload.get("correlation_id")),
    }
    client.xadd(f"{prefix}:{address}", fields)


def redis_dead_reasons(client: Any, prefix: str, group: str) -> dict[str, str]:
    """The dead letters of `group`: event id -> reason."""
    dead = {}
    for _, fields in client.xrange(f"{prefix}:dead:{group}"):
        event_id = json.loads(fields[b"envelope"])["event_id"]
        dead[event_id] = fields[b"reason"].decode()
    return dead


def amqp_dead_reasons(url: str, group: str) -> dict[str, str]:
    """The dead letters of `group` (its queue `<group>.dead`): event id -> reason; read, and
    given back to the queue."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    dead = {}
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(f"{group}.dead", auto_ack=False)
            if method is None:
                break
            reason = (properties.headers or {}).get("x-dead-reason", b"")
            text = reason.decode() if isinstance(reason, bytes) else str(reason)
            dead[json.loads(body)["event_id"]] = text
    finally:
        connection.close()  # unacknowledged: the dead letters stay where they were
    return dead
