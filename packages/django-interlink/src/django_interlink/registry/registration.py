"""Registering this Django service with the registry (used by `manage.py register_service`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..conf import ms_settings
from ..exceptions import RegistryUnavailable
from .base import ServiceRegistry, get_registry

logger = logging.getLogger("django_interlink.registry")


@dataclass(frozen=True)
class Registration:
    """What this service registers as; the HTTP check calls `health_check_url`."""

    name: str
    address: str
    port: int
    health_check_url: str
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)


def registration_from_settings(
    *,
    name: str | None = None,
    address: str | None = None,
    port: int | None = None,
    health_check_url: str | None = None,
    tags: Collection[str] | None = None,
    meta: Mapping[str, str] | None = None,
) -> Registration:
    """REGISTRY's SERVICE_* settings, each overridable; the check URL defaults to /health/ready/."""
    conf: dict[str, Any] = ms_settings.REGISTRY
    address = address or str(conf["SERVICE_ADDRESS"])
    port = int(port or conf["SERVICE_PORT"])
    host = f"[{address}]" if ":" in address else address
    url = health_check_url or str(conf["HEALTH_CHECK_URL"]) or f"http://{host}:{port}/health/ready/"
    return Registration(
        name=name or str(conf["SERVICE_NAME"]),
        address=address,
        port=port,
        health_check_url=url,
        tags=tuple(tags if tags is not None else conf["SERVICE_TAGS"]),
        meta=dict(meta or {}),
    )


def service_register(
    registration: Registration,
    *,
    registry: ServiceRegistry | None = None,
    wait: float = 30.0,
    backoff: float = 0.5,
) -> str:
    """Register, retrying while the registry is unreachable for up to `wait` seconds.

    A container may start before its Consul agent answers; giving up at once would leave the
    service running but never discoverable.
    """
    registry = registry or get_registry()
    deadline = time.monotonic() + wait
    delay = backoff
    while True:
        try:
            return registry.register_service(
                registration.name,
                registration.address,
                registration.port,
                registration.health_check_url,
                registration.tags,
                registration.meta,
            )
        except RegistryUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("registry unavailable, retrying registration in %.1fs: %s", delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def service_deregister(service_id: str, *, registry: ServiceRegistry | None = None) -> None:
    (registry or get_registry()).deregister_service(service_id)
