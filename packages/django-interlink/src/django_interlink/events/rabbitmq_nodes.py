"""The RabbitMQ nodes of EVENT_BUS['RABBITMQ_URL'], parsed and checked in this one place.

    "amqp://u:p@rabbit1:5672/%2F"                              one node, as always
    "amqp://u:p@rabbit1/%2F,amqp://u:p@rabbit2/%2F"            a cluster, comma-separated
    ["amqp://u:p@rabbit1/%2F", "amqp://u:p@rabbit2/%2F"]       a cluster, a list

Every client (the publisher, the consumer, the relay, the dead-letter tools, /health/ready/)
connects through `connection_parameters()`: the nodes in a fresh random order each time, so that
clients spread over the cluster and a client that lost its node tries the others first; pika's
BlockingConnection takes that list and uses the first node that answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from urllib.parse import urlsplit

import pika

from ..exceptions import EventError
from .infrastructure import reconnect_delay

SCHEMES = ("amqp", "amqps")


class RabbitMQURLError(EventError, ValueError):
    """RABBITMQ_URL (or one of its entries) is not an amqp:// URL."""

    default_message = "EVENT_BUS['RABBITMQ_URL'] is not a valid list of amqp:// URLs"


def rabbitmq_urls(value: object) -> list[str]:
    """The node URLs of a RABBITMQ_URL setting: a string (comma-separated) or a list of strings.

    Raises `RabbitMQURLError` naming the first bad entry (by position, never its credentials).
    """
    if isinstance(value, str):
        entries: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        entries = list(value)
    else:
        raise RabbitMQURLError(
            f"RABBITMQ_URL must be a URL, comma-separated URLs or a list of URLs, "
            f"not {type(value).__name__}"
        )
    urls: list[str] = []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, str):
            raise RabbitMQURLError(
                f"RABBITMQ_URL entry {position} is a {type(entry).__name__}, not a URL"
            )
        url = entry.strip()
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise RabbitMQURLError(
                f"RABBITMQ_URL entry {position} ({where(url) if url else 'empty'}) is not an "
                "amqp:// or amqps:// URL"
            )
        try:
            pika.URLParameters(url)
        except Exception as exc:  # pika raises several kinds for a malformed URL
            raise RabbitMQURLError(
                f"RABBITMQ_URL entry {position} ({where(url)}) is malformed: {type(exc).__name__}"
            ) from exc
        urls.append(url)
    if not urls:
        raise RabbitMQURLError("RABBITMQ_URL names no node")
    return list(dict.fromkeys(urls))  # the same node twice is one node


def where(url: str) -> str:
    """scheme://host:port/vhost of an AMQP URL, for logs and errors (never the credentials)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an unparsable URL"
    return f"{host}:{port or 5672}{parts.path or '/'}"


def describe(urls: Sequence[str]) -> str:
    """The nodes for a log line: "host:port/vhost" or "one of host1:port/, host2:port/"."""
    if len(urls) == 1:
        return where(urls[0])
    return "one of " + ", ".join(where(url) for url in urls)


def shuffled(urls: Sequence[str], rng: random.Random | None = None) -> list[str]:
    """The URLs in a random order: each client starts on its own node."""
    order = list(urls)
    if rng is None:
        random.shuffle(order)
    else:
        rng.shuffle(order)
    return order


def connection_parameters(
    urls: Sequence[str], rng: random.Random | None = None
) -> list[pika.URLParameters]:
    """One pika.URLParameters per node, shuffled; each tried once before the next."""
    parameters = []
    for url in shuffled(urls, rng):
        params = pika.URLParameters(url)
        params.connection_attempts = 1
        params.retry_delay = 0
        parameters.append(params)
    return parameters


def failover_delay(attempt: int, nodes: int, cap: float) -> float:
    """Seconds before reconnect attempt `attempt` (1-based) after a lost connection.

    With several nodes the first attempt goes at once: the node that died is one of them, the
    others are probably alive. Each attempt tries every node, so after a failed one the usual
    backoff applies (counted from the failed attempt).
    """
    if nodes > 1:
        if attempt <= 1:
            return 0.0
        attempt -= 1
    return reconnect_delay(attempt, cap)
