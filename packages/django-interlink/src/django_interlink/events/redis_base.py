"""What the two Redis buses share: one client, calls retried across reconnects, key names.

Both name their keys `<prefix>:<event_type>` (a stream, or a pub/sub channel) and write what
their handlers could not settle to the stream `<prefix>:dead:<group>`. The client reaches one
server (REDIS_URL) or the primary of a Sentinel service (redis_connection.py); a failover shows
as one of RECONNECTABLE for a second or two, and every caller retries those.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Self

import redis.exceptions as rx

from ..exceptions import BusUnavailable
from .bus import EventBus, reconnect_delay
from .redis_connection import RedisTarget

# A server gone, or mid-failover: MasterNotFoundError (a ConnectionError) while no sentinel names
# a primary, ReadOnlyError from a demoted primary still reached by an old connection.
RECONNECTABLE: tuple[type[BaseException], ...] = (
    rx.ConnectionError,
    rx.TimeoutError,
    rx.ReadOnlyError,
    OSError,
)


def text(value: Any) -> str:
    """A Redis reply as str (replies are bytes unless the client decodes them)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBus(EventBus):
    """A Redis client, calls retried across reconnects, and the key names of both buses."""

    def __init__(
        self,
        target: RedisTarget | str,
        *,
        prefix: str,
        max_deliveries: int,
        publish_timeout: float,
        reconnect_backoff_max: float,
    ) -> None:
        super().__init__()
        self.target = RedisTarget(target) if isinstance(target, str) else target
        self.target.validate()  # RedisAddressError (a ValueError) names what is missing
        self.prefix = prefix
        self.max_deliveries = max_deliveries
        self.publish_timeout = publish_timeout
        self.reconnect_backoff_max = reconnect_backoff_max
        self.client: Any = self.target.client(
            socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A bus from the EVENT_BUS settings, every key present (backends.bus_settings())."""
        return cls(RedisTarget.from_config(config), **cls.options(config))

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The constructor's keyword arguments, from the EVENT_BUS settings."""
        return {
            "prefix": str(config["REDIS_STREAM_PREFIX"]),
            "max_deliveries": int(config["MAX_DELIVERIES"]),
            "publish_timeout": float(config["PUBLISH_TIMEOUT"]),
            "reconnect_backoff_max": float(config["RECONNECT_BACKOFF_MAX"]),
        }

    def close(self) -> None:
        self.client.close()

    def _with_reconnect(self, what: str, call: Any) -> Any:
        """Run `call()`, retrying connection failures with backoff up to PUBLISH_TIMEOUT."""
        deadline = time.monotonic() + self.publish_timeout
        attempt = 0
        while True:
            try:
                return call()
            except RECONNECTABLE as exc:
                attempt += 1
                if time.monotonic() >= deadline:
                    raise BusUnavailable(f"Redis unreachable during {what}: {exc}") from exc
                time.sleep(reconnect_delay(attempt, self.reconnect_backoff_max))

    def channel(self, event_type: str) -> str:
        return f"{self.prefix}:{event_type}"

    def dead_stream(self, group: str) -> str:
        return f"{self.prefix}:dead:{group}"
