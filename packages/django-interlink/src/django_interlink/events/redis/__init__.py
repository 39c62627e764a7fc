"""The Redis buses, Streams and pub/sub, and what they are built from, a module each.

    from django_interlink.events.redis import RedisStreamsBus   # or get_bus(), BACKEND "redis"
    from django_interlink.events.redis import RedisPubSubBus    # BACKEND "redis_pubsub"

The buses are loaded on first use of their names: importing a module of this package (the
system checks and /health/ready/ read connection.py) does not load a bus and its consumer.

Layers, each importing only from the layers below it (`|`: independent of each other):

    streams | pubsub                     the reliable bus (consumer groups, acks, retries, dead
                                         letters); the fire-and-forget one
    stream_run                           one RedisStreamsBus.consume() call at work
    dead_letters                         a group's dead stream (DeadLetterBox)
    base                                 what both buses share: the client, reconnects, key names
    connection                           where they connect: REDIS_URL, or Sentinel's primary
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pubsub import RedisPubSubBus
    from .streams import RedisStreamsBus

__all__ = ["RedisPubSubBus", "RedisStreamsBus"]


def __getattr__(name: str) -> Any:
    if name == "RedisStreamsBus":
        from .streams import RedisStreamsBus

        return RedisStreamsBus
    if name == "RedisPubSubBus":
        from .pubsub import RedisPubSubBus

        return RedisPubSubBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
