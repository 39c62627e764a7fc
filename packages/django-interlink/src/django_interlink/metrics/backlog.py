"""What each consumer group has yet to handle, and its dead letters, read from the broker.

    GroupBacklog(waiting=12, dead=1)     # per group, by `read_backlog(bus_config, groups, ...)`

RabbitMQ: the ready messages of the group's work queues `<group>.<event_type>` and of its
`<group>.dead`, from a passive queue.declare (the broker's own count; nothing is consumed).
Redis Streams: the `lag` XINFO GROUPS gives for the group on each `<prefix>:<event_type>` (entries
not yet delivered to the group; Redis says null when deleted entries make it unknowable, counted
as 0 here) and XLEN of `<prefix>:dead:<group>`. Messages handed out but not yet acknowledged are
not waiting on either broker. A queue or stream that does not exist yet holds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions as pe
import redis.exceptions as rx
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from ..events.rabbitmq_nodes import connection_parameters, rabbitmq_urls
from ..events.rabbitmq_topology import Topology
from ..events.redis_base import text
from ..events.redis_connection import RedisTarget

__all__ = ["GroupBacklog", "read_backlog"]

NOT_FOUND = 404


@dataclass(frozen=True)
class GroupBacklog:
    waiting: int  # messages not yet handed to the group's consumers
    dead: int  # dead letters


def read_backlog(
    bus: Mapping[str, Any], groups: Mapping[str, Sequence[str]], *, timeout: float
) -> dict[str, GroupBacklog]:
    """Each group's backlog on the EVENT_BUS `bus`; {} for a bus without a broker (memory,
    Redis pub/sub keeps nothing). Broker errors propagate: the caller counts them."""
    backend = str(bus["BACKEND"])
    if backend == "rabbitmq":
        return _rabbitmq(bus, groups, timeout)
    if backend == "redis":
        return _redis(bus, groups, timeout)
    return {}


def _rabbitmq(
    bus: Mapping[str, Any], groups: Mapping[str, Sequence[str]], timeout: float
) -> dict[str, GroupBacklog]:
    nodes = connection_parameters(rabbitmq_urls(bus["RABBITMQ_URL"] or ""))
    for params in nodes:
        params.socket_timeout = timeout
        params.stack_timeout = timeout
        params.blocked_connection_timeout = timeout
    connection = pika.BlockingConnection(nodes)
    try:
        counter = _QueueCounter(connection)
        return {
            group: GroupBacklog(
                waiting=sum(counter.ready(Topology.queue_name(group, t)) for t in types),
                dead=counter.ready(Topology.dead_letter_queue(group)),
            )
            for group, types in groups.items()
        }
    finally:
        if connection.is_open:
            connection.close()


class _QueueCounter:
    """Ready messages of queues by passive declare; a 404 closes the channel, so open another."""

    def __init__(self, connection: BlockingConnection) -> None:
        self.connection = connection
        self.channel: BlockingChannel = connection.channel()

    def ready(self, queue: str) -> int:
        try:
            ok = self.channel.queue_declare(queue, passive=True)
        except pe.ChannelClosedByBroker as exc:
            if exc.reply_code != NOT_FOUND:
                raise
            self.channel = self.connection.channel()
            return 0
        return int(ok.method.message_count)


def _redis(
    bus: Mapping[str, Any], groups: Mapping[str, Sequence[str]], timeout: float
) -> dict[str, GroupBacklog]:
    prefix = str(bus["REDIS_STREAM_PREFIX"])
    client = RedisTarget.from_config(bus).client(
        socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return {
            group: GroupBacklog(
                waiting=sum(_lag(client, f"{prefix}:{t}", group) for t in types),
                dead=int(client.xlen(f"{prefix}:dead:{group}")),
            )
            for group, types in groups.items()
        }
    finally:
        client.close()


def _lag(client: Any, stream: str, group: str) -> int:
    try:
        infos = client.xinfo_groups(stream)
    except rx.ResponseError:  # no such stream yet
        return 0
    for info in infos:
        if text(info.get("name", b"")) == group:
            return int(info.get("lag") or 0)
    return 0
