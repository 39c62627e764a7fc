"""Static registry: instances come from settings (the embedded default, no outside system).

A service's instances are INTERLINK['REGISTRY']['INSTANCES'][name] (a list of base URLs)
when given, else its INTERLINK['SERVICES'][name]['BASE_URL']. Registration is a no-op: the
settings are the registry.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..conf import ms_settings
from ..exceptions import RegistryError
from .base import ServiceInstance, ServiceRegistry

logger = logging.getLogger("django_interlink.registry")

DEFAULT_PORTS = {"http": 80, "https": 443}


def instance_from_url(name: str, url: str) -> ServiceInstance:
    """A ServiceInstance for a base URL such as http://127.0.0.1:8001 or https://gw/users."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RegistryError(f"{name!r} instance URL must be http(s)://host[:port][/path]: {url!r}")
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    return ServiceInstance(
        service_id=f"{name}@{parts.hostname}:{port}{parts.path.rstrip('/')}",
        name=name,
        address=parts.hostname,
        port=port,
        scheme=parts.scheme,
        path=parts.path.rstrip("/"),
    )


class StaticRegistry(ServiceRegistry):
    """Discovery from settings; always available."""

    @classmethod
    def from_settings(cls) -> StaticRegistry:
        return cls(strategy=str(ms_settings.REGISTRY["STRATEGY"]))

    def urls(self, name: str) -> list[str]:
        configured: dict[str, Any] = ms_settings.REGISTRY.get("INSTANCES") or {}
        if name in configured:
            return [str(u) for u in configured[name]]
        services: dict[str, Any] = ms_settings.SERVICES
        if name in services:
            base = str(ms_settings.service(name)["BASE_URL"])
            return [base] if base else []
        return []

    def discover(self, name: str, *, refresh: bool = False) -> list[ServiceInstance]:
        return [instance_from_url(name, url) for url in self.urls(name)]

    def register_service(
        self,
        name: str,
        address: str,
        port: int,
        health_check_url: str,
        tags: Collection[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> str:
        service_id = f"{name}@{address}:{port}"
        logger.info(
            "static registry: %s is not registered anywhere (instances come from settings)",
            service_id,
            extra={"event": "register", "service_id": service_id, "backend": "static"},
        )
        return service_id

    def deregister_service(self, service_id: str) -> None:
        logger.info(
            "static registry: nothing to deregister for %s",
            service_id,
            extra={"event": "deregister", "service_id": service_id, "backend": "static"},
        )

    def ping(self) -> None:
        return None
