"""Retention of Redis Streams: each stream is trimmed up to the oldest entry a group still needs.

A consumer group still needs every entry pending on one of its consumers (read, not yet
acknowledged) and every entry after its last-delivered id (not read yet). Entries older than
the oldest of those, over all the stream's groups, were acknowledged by every group, so
`XTRIM <stream> MINID ~ <floor>` drops them; the `~` lets Redis drop whole internal nodes only,
so a few acknowledged entries may stay, never a needed one. A stream without groups is kept
whole: the first group created reads it from the start (RedisStreamsBus.declare).

The dead-letter streams (`<prefix>:dead:<group>`) are read by people, not groups: they are
bounded by length instead, RETENTION['REDIS_DEAD_LETTER_MAXLEN'] (the oldest go first).

The floor only ever rises while it is computed (acknowledging, reading and claiming never make
an older entry needed again), so a trim racing with consumers is safe. Resetting a group
backwards (XGROUP SETID) is the one thing that can ask for a trimmed entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis.exceptions as rx

from ..exceptions import BusUnavailable
from .bus import EventBus
from .redis_base import text
from .redis_streams import RedisStreamsBus

logger = logging.getLogger("django_interlink.events.retention")

__all__ = ["StreamTrim", "bus_trim", "stream_floor", "stream_trim"]


def _parse(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def _successor(entry_id: str) -> str:
    millis, sequence = _parse(entry_id)
    return f"{millis}-{sequence + 1}"


def stream_floor(client: Any, stream: str) -> str | None:
    """The id of the oldest entry some group of `stream` still needs (it may not exist yet),
    or None when the stream has no group (nothing may be trimmed)."""
    groups = client.xinfo_groups(stream)
    if not groups:
        return None
    floors: list[str] = []
    # XINFO GROUPS reports each group's pending count and last-delivered id in one reply.
    for group in groups:
        name = text(group["name"])
        floors.append(_successor(text(group["last-delivered-id"])))
        if int(group["pending"]):
            summary = client.xpending(stream, name)
            if summary["min"] is not None:
                floors.append(text(summary["min"]))
    return min(floors, key=_parse)


def stream_trim(client: Any, stream: str) -> int:
    """Drop the entries of `stream` every group has acknowledged; how many went."""
    floor = stream_floor(client, stream)
    if floor is None:
        return 0
    return int(client.xtrim(stream, minid=floor, approximate=True))


@dataclass
class StreamTrim:
    entries: int = 0  # acknowledged entries dropped from the event streams
    dead_letters: int = 0  # the oldest dead letters dropped beyond the length bound


def bus_trim(bus: EventBus, *, dead_letter_maxlen: int) -> StreamTrim | None:
    """Trim every stream of a Redis Streams bus (its prefix); None for other buses, whose
    brokers delete a message once acknowledged. Raises BusUnavailable if Redis is away."""
    if not isinstance(bus, RedisStreamsBus):
        return None
    result = StreamTrim()
    dead_prefix = bus.dead_stream("")
    try:
        for key in bus.client.scan_iter(match=f"{bus.prefix}:*", _type="stream", count=500):
            stream = text(key)
            if stream.startswith(dead_prefix):
                dropped = int(bus.client.xtrim(stream, maxlen=dead_letter_maxlen, approximate=True))
                if dropped:
                    logger.warning(
                        "dropped the %d oldest dead letters of %s (REDIS_DEAD_LETTER_MAXLEN %d)",
                        dropped,
                        stream,
                        dead_letter_maxlen,
                    )
                result.dead_letters += dropped
            else:
                result.entries += stream_trim(bus.client, stream)
    except rx.RedisError as exc:
        raise BusUnavailable(f"Redis failed during the trim: {exc}") from exc
    return result
