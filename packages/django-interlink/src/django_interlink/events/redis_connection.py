"""Where the Redis buses connect: the server of REDIS_URL, or the primary Sentinel names.

    REDIS_URL = "redis://redis:6379/0"                      # one server
    REDIS_SENTINELS = ["s1:26379", "s2:26379", ("s3", 26379)]
    REDIS_SENTINEL_SERVICE = "mymaster"
    REDIS_URL = "redis://:primary-password@/0"              # with sentinels: auth, db, TLS only

With sentinels, REDIS_URL's scheme (rediss = TLS), username, password and database apply to the
primary; its host and port are not used (check W053 says so), the sentinels name the primary.
REDIS_SENTINEL_USERNAME / _PASSWORD authenticate to the sentinels themselves.

The client comes from redis-py's `Sentinel.master_for`: every new connection asks the sentinels
where the primary is. A connection broken by a failover is not re-resolved within redis-py's
own quick retries (the sentinels still name the dead primary for down-after-milliseconds), so
the buses retry in the application (redis_base.RECONNECTABLE): a later call connects afresh and
reaches the promoted replica.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = {"redis", "rediss"}


class RedisAddressError(ValueError):
    """REDIS_SENTINELS or REDIS_URL cannot name a Redis to connect to; the message says which."""


def parse_sentinels(value: Any) -> tuple[tuple[str, int], ...]:
    """REDIS_SENTINELS as (host, port) pairs: a list of "host:port" strings or [host, port]
    pairs, or one comma-separated string (from an environment variable); "" or [] = none."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list | tuple):
        raise RedisAddressError(
            f"REDIS_SENTINELS must be a list of 'host:port' or [host, port], not {value!r}"
        )
    return tuple(_sentinel(entry) for entry in value)


def _sentinel(entry: Any) -> tuple[str, int]:
    if isinstance(entry, str):
        host, sep, port_text = entry.rpartition(":")
        if not sep or not host:
            raise RedisAddressError(f"REDIS_SENTINELS entry {entry!r} is not 'host:port'")
        host = host.strip("[]")  # "[::1]:26379"
        try:
            port: Any = int(port_text)
        except ValueError:
            raise RedisAddressError(
                f"REDIS_SENTINELS entry {entry!r} has a port that is not a number"
            ) from None
    elif isinstance(entry, list | tuple) and len(entry) == 2:
        host, port = entry
    else:
        raise RedisAddressError(
            f"REDIS_SENTINELS entry {entry!r} is neither 'host:port' nor [host, port]"
        )
    if not isinstance(host, str) or not host:
        raise RedisAddressError(f"REDIS_SENTINELS entry {entry!r} has no host")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise RedisAddressError(f"REDIS_SENTINELS entry {entry!r} has no port in 1-65535")
    return host, port


@dataclass(frozen=True)
class RedisTarget:
    """One Redis to connect to: a URL, or a Sentinel service (the URL then gives auth and db)."""

    url: str = field(repr=False)  # it may hold a password
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    sentinel_username: str = ""
    sentinel_password: str = field(default="", repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RedisTarget:
        """The target of the EVENT_BUS settings; RedisAddressError when they name none."""
        sentinels = parse_sentinels(config.get("REDIS_SENTINELS") or [])
        url = str(config.get("REDIS_URL") or "")
        target = cls(
            url=url,
            sentinels=sentinels,
            service=str(config.get("REDIS_SENTINEL_SERVICE") or ""),
            sentinel_username=str(config.get("REDIS_SENTINEL_USERNAME") or ""),
            sentinel_password=str(config.get("REDIS_SENTINEL_PASSWORD") or ""),
        )
        target.validate()
        return target

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def validate(self) -> None:
        scheme = urlsplit(self.url).scheme if self.url else ""
        if not self.sentinels:
            if scheme not in {"redis", "rediss", "unix"}:
                raise RedisAddressError(
                    "the Redis bus needs INTERLINK['EVENT_BUS']['REDIS_URL'] (redis://...) "
                    "or REDIS_SENTINELS with REDIS_SENTINEL_SERVICE"
                )
            return
        if not self.service:
            raise RedisAddressError("REDIS_SENTINELS is set but REDIS_SENTINEL_SERVICE is empty")
        if self.url and scheme not in SENTINEL_SCHEMES:
            raise RedisAddressError(
                f"with REDIS_SENTINELS, REDIS_URL must be redis:// or rediss:// (it gives the "
                f"primary's auth and db), not {scheme or 'a URL without a scheme'}://"
            )

    def client(self, **options: Any) -> Any:
        """A redis-py client of this target; `options` are socket and health-check options.

        Any: redis-py annotates replies as unions over RESP2/RESP3 and sync/async that do not
        narrow; the callers decode each reply explicitly instead.
        """
        if not self.sentinels:
            return redis.Redis.from_url(self.url, **options)
        sentinel = Sentinel(
            list(self.sentinels),
            sentinel_kwargs={
                "username": self.sentinel_username or None,
                "password": self.sentinel_password or None,
                "socket_timeout": options.get("socket_connect_timeout", 5),
                "socket_connect_timeout": options.get("socket_connect_timeout", 5),
            },
        )
        return sentinel.master_for(self.service, **self.primary_options(), **options)

    def primary_options(self) -> dict[str, Any]:
        """The primary's auth, db and TLS from REDIS_URL (its host and port are not used)."""
        if not self.url:
            return {}
        parsed: dict[str, Any] = parse_url(self.url)  # type: ignore[no-untyped-call]
        options = {k: parsed[k] for k in ("username", "password", "db") if k in parsed}
        if urlsplit(self.url).scheme == "rediss":
            options["ssl"] = True
        return options

    def describe(self) -> str:
        """Where this is, for logs and health: no password."""
        if self.sentinels:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"sentinel service {self.service!r} via {hosts}"
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def sentinel_addresses(value: Sequence[tuple[str, int]]) -> list[str]:
    """(host, port) pairs as the "host:port" strings REDIS_SENTINELS accepts."""
    return [f"{host}:{port}" for host, port in value]
