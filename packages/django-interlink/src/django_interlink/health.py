"""Health of what this service depends on: database, event broker, Redis, service registry.

`health_report()` checks each component with short timeouts and says "up", "down" or why it
does not apply. `cached_health_report()` answers from a report at most HEALTH["CACHE_SECONDS"]
old, so a probe that polls readiness does not open fresh connections to every dependency on
each call; views.py serves it as /health/ready/ (the registry's HTTP check).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pika
from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

from .conf import ms_settings
from .events.rabbitmq_nodes import connection_parameters, rabbitmq_urls
from .events.redis_connection import RedisAddressError, RedisTarget
from .registry.base import get_registry

Status = Literal["up", "down", "not_applicable", "not_configured"]
TIMEOUT = 2.0
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """Drop user:password@ from any URL in `text` (error messages may quote one)."""
    return _CREDENTIALS.sub("***@", text)


@dataclass(frozen=True)
class ComponentHealth:
    status: Status
    detail: str = ""
    duration_ms: float = 0.0

    @property
    def is_down(self) -> bool:
        return self.status == "down"


@dataclass(frozen=True)
class HealthReport:
    components: dict[str, ComponentHealth]

    @property
    def healthy(self) -> bool:
        return not any(c.is_down for c in self.components.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unavailable",
            "components": {name: asdict(c) for name, c in self.components.items()},
        }


def _timed(probe: Callable[[], str]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:
        return ComponentHealth(
            "down",
            redact(f"{type(exc).__name__}: {exc}")[:300],
            round((time.perf_counter() - started) * 1000, 1),
        )
    return ComponentHealth("up", detail, round((time.perf_counter() - started) * 1000, 1))


def check_database(alias: str = "default") -> ComponentHealth:
    def probe() -> str:
        connection = connections[alias]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:
            # A connection broken by a database restart stays broken until closed: close it so
            # the next check (and request) reconnects instead of reporting "down" forever.
            if not connection.in_atomic_block:
                connection.close()
            raise
        return connection.vendor

    return _timed(probe)


def ping_rabbitmq(url: str | list[str]) -> str:
    """The first node (of a shuffle) of RABBITMQ_URL that answers: a cluster is ready while one
    node serves its clients."""
    nodes = connection_parameters(rabbitmq_urls(url))
    for params in nodes:
        params.socket_timeout = TIMEOUT
        params.stack_timeout = TIMEOUT * 2
        params.blocked_connection_timeout = TIMEOUT
    connection = pika.BlockingConnection(nodes)
    try:
        version = connection._impl.server_properties.get("version", b"")
        node = f"{connection._impl.params.host}:{connection._impl.params.port}"
    finally:
        connection.close()
    version = version.decode() if isinstance(version, bytes) else version
    return f"rabbitmq {version}".strip() + (f" at {node}" if len(nodes) > 1 else "")


def ping_redis(where: str | RedisTarget) -> str:
    """PING a Redis (a URL, or the bus's target: a Sentinel service's current primary)."""
    target = RedisTarget(where) if isinstance(where, str) else where
    client = target.client(socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        client.ping()
        version = client.info("server").get("redis_version", "")
    finally:
        client.close()
    return f"redis {version}".strip()


def check_broker() -> ComponentHealth:
    """The event bus's broker: RabbitMQ or Redis per EVENT_BUS BACKEND (memory has none)."""
    bus: dict[str, Any] = ms_settings.EVENT_BUS
    backend = str(bus["BACKEND"])
    if backend == "rabbitmq":
        nodes = bus["RABBITMQ_URL"] or ""
        if not nodes:
            return ComponentHealth("down", "EVENT_BUS BACKEND rabbitmq has no RABBITMQ_URL")
        return _timed(lambda: ping_rabbitmq(nodes))
    if backend == "redis":
        target = _bus_redis(bus)
        if target is None:
            return ComponentHealth("down", "EVENT_BUS BACKEND redis has no REDIS_URL or sentinels")
        return _timed(lambda: ping_redis(target))
    return ComponentHealth("not_applicable", f"event bus backend {backend!r} has no broker")


def _bus_redis(bus: dict[str, Any]) -> RedisTarget | None:
    """The event bus's Redis (a URL or a Sentinel service), None if the settings name none."""
    try:
        return RedisTarget.from_config(bus)
    except RedisAddressError:
        return None


def redis_urls() -> list[str]:
    """The Redis servers of the Django caches, and the event bus's when it is one URL."""
    urls: list[str] = []
    bus = _bus_redis(ms_settings.EVENT_BUS)
    if bus is not None and not bus.uses_sentinel:
        urls.append(bus.url)
    for conf in getattr(settings, "CACHES", {}).values():
        if str(conf.get("BACKEND", "")).endswith("RedisCache"):
            location = conf.get("LOCATION")
            urls += [location] if isinstance(location, str) else list(location or [])
    return list(dict.fromkeys(urls))


def check_redis() -> ComponentHealth:
    bus = _bus_redis(ms_settings.EVENT_BUS)
    targets: list[str | RedisTarget] = [*redis_urls()]
    if bus is not None and bus.uses_sentinel:
        targets.insert(0, bus)
    if not targets:
        return ComponentHealth("not_configured", "no Redis in EVENT_BUS REDIS_URL or CACHES")

    def probe() -> str:
        return ", ".join(ping_redis(target) for target in targets)

    return _timed(probe)


def check_registry() -> ComponentHealth:
    def probe() -> str:
        registry = get_registry()
        registry.ping()
        return str(ms_settings.REGISTRY["BACKEND"])

    return _timed(probe)


def health_report() -> HealthReport:
    """Check every component now (nothing cached: the registry's check wants the truth)."""
    return HealthReport(
        {
            "database": check_database(),
            "broker": check_broker(),
            "redis": check_redis(),
            "registry": check_registry(),
        }
    )


class _ReportCache:
    """The last report and when it was made, shared by the threads of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._report: HealthReport | None = None
        self._made_at = 0.0

    def get(self, max_age: float) -> HealthReport:
        # One thread checks while the others wait for its answer: a burst of probes costs one
        # round of connections, not one per request.
        with self._lock:
            now = time.monotonic()
            if self._report is None or now - self._made_at >= max_age:
                self._report = health_report()
                self._made_at = time.monotonic()
            return self._report

    def clear(self) -> None:
        with self._lock:
            self._report = None


_cache = _ReportCache()


def cached_health_report() -> HealthReport:
    """A report at most HEALTH["CACHE_SECONDS"] old (0: always a fresh one)."""
    return _cache.get(float(ms_settings.HEALTH["CACHE_SECONDS"]))


@receiver(setting_changed, dispatch_uid="django_interlink.health.clear_cache")
def _clear_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "INTERLINK":
        _cache.clear()
