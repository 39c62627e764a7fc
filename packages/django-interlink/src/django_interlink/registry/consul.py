"""Consul registry (py-consul): HTTP health checks, cached discovery, last-known-good fallback.

Discovery asks the agent for passing instances only and caches them in Django's cache for
REGISTRY['CACHE_TTL'] seconds. Every answer is also kept as the service's last-known-good list:
when Consul can't be reached, that list is served and a warning logged, so a registry outage
does not take down calls to services that are still up.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import consul
import requests
from consul.std import HTTPClient
from django.core.cache import caches

from ..conf import ms_settings
from ..exceptions import RegistryError, RegistryUnavailable
from .base import ServiceInstance, ServiceRegistry

logger = logging.getLogger("django_interlink.registry")

CACHE_PREFIX = "interlink:registry"


class _Consul(consul.Consul):  # type: ignore[misc]
    """py-consul's client with a request timeout (its default is 30 s)."""

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self._timeout = timeout
        super().__init__(*args, **kwargs)

    def http_connect(
        self, host: str, port: int, scheme: str, verify: bool | str = True, cert: Any = None
    ) -> HTTPClient:
        return HTTPClient(host, port, scheme, verify, cert, connections_timeout=self._timeout)


def parse_address(addr: str, default_scheme: str = "http") -> tuple[str, str, int]:
    """(scheme, host, port) of a CONSUL_HTTP_ADDR ("host:port" or "scheme://host:port")."""
    addr = addr.strip() or "127.0.0.1:8500"  # Consul's own default: the local agent
    parts = urlsplit(addr if "://" in addr else f"{default_scheme}://{addr}")
    try:
        port = parts.port or 8500
    except ValueError:
        port = 0
    if parts.scheme not in {"http", "https"} or not parts.hostname or not port:
        raise RegistryError(f"CONSUL_HTTP_ADDR must be host:port or http(s)://host:port: {addr!r}")
    return parts.scheme, parts.hostname, port


class ConsulRegistry(ServiceRegistry):
    """Service registry on a Consul agent."""

    def __init__(
        self,
        *,
        address: str = "127.0.0.1:8500",
        token: str = "",
        scheme: str = "http",
        cache_ttl: float = 30,
        check_interval: str = "10s",
        check_timeout: str = "5s",
        deregister_critical_after: str = "1m",
        timeout: float = 2.0,
        cache_alias: str = "default",
        strategy: str = "round_robin",
    ) -> None:
        super().__init__(strategy=strategy)
        self.scheme, self.host, self.port = parse_address(address, scheme)
        self.cache_ttl = float(cache_ttl)
        self.check_interval = check_interval
        self.check_timeout = check_timeout
        self.deregister_critical_after = deregister_critical_after
        self.cache_alias = cache_alias
        self.client = _Consul(self.host, self.port, scheme=self.scheme, timeout=timeout)
        if token:  # py-consul lets CONSUL_HTTP_TOKEN win over an explicit token; settings win here
            self.client.token = token

    @classmethod
    def from_settings(cls) -> ConsulRegistry:
        conf: dict[str, Any] = ms_settings.REGISTRY
        return cls(
            address=str(conf["CONSUL_HTTP_ADDR"]),
            token=str(conf["CONSUL_HTTP_TOKEN"]),
            scheme=str(conf["CONSUL_SCHEME"]),
            cache_ttl=float(conf["CACHE_TTL"]),
            check_interval=str(conf["HEALTH_CHECK_INTERVAL"]),
            check_timeout=str(conf["HEALTH_CHECK_TIMEOUT"]),
            deregister_critical_after=str(conf["DEREGISTER_CRITICAL_AFTER"]),
            timeout=float(conf["CONSUL_TIMEOUT"]),
            cache_alias=str(conf["CACHE_ALIAS"]),
            strategy=str(conf["STRATEGY"]),
        )

    def __repr__(self) -> str:  # never show the token
        return f"ConsulRegistry({self.scheme}://{self.host}:{self.port})"

    # -- cache -----------------------------------------------------------------------------

    @property
    def cache(self) -> Any:
        return caches[self.cache_alias]

    def _key(self, kind: str, name: str) -> str:
        return f"{CACHE_PREFIX}:{kind}:{self.host}:{self.port}:{name}"

    def forget(self, name: str) -> None:
        """Drop the cached discovery answer of `name` (the last-known-good list stays)."""
        self.cache.delete(self._key("fresh", name))

    # -- errors ----------------------------------------------------------------------------

    def _unavailable(self, what: str, exc: Exception) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"Consul at {self.scheme}://{self.host}:{self.port} unavailable ({what}): "
            f"{type(exc).__name__}: {exc}"
        )

    # -- the registry ----------------------------------------------------------------------

    def register_service(
        self,
        name: str,
        address: str,
        port: int,
        health_check_url: str,
        tags: Collection[str] = (),
        meta: Mapping[str, str] | None = None,
        *,
        check_headers: Mapping[str, list[str]] | None = None,
    ) -> str:
        """Register one instance with an HTTP check on `health_check_url`.

        `check_headers` are sent with each check request (e.g. an Authorization header).
        The id is name-address-port, so registering the same instance again replaces it.
        """
        service_id = f"{name}-{address}-{port}"
        check = consul.Check.http(
            health_check_url,
            self.check_interval,
            timeout=self.check_timeout,
            deregister=self.deregister_critical_after,
            header={k: list(v) for k, v in (check_headers or {}).items()} or None,
        )
        try:
            self.client.agent.service.register(
                name,
                service_id=service_id,
                address=address,
                port=port,
                tags=list(tags),
                meta=dict(meta or {}),
                check=check,
            )
        except consul.ACLPermissionDenied as exc:
            raise RegistryError(f"Consul ACL token may not register {name!r}: {exc}") from exc
        except (consul.ConsulException, requests.RequestException) as exc:
            raise self._unavailable(f"registering {service_id}", exc) from exc
        self.forget(name)
        logger.info(
            "registered %s at %s:%s with HTTP check %s every %s",
            service_id,
            address,
            port,
            health_check_url,
            self.check_interval,
            extra={"event": "register", "service_id": service_id, "backend": "consul"},
        )
        return service_id

    def deregister_service(self, service_id: str) -> None:
        try:
            self.client.agent.service.deregister(service_id)
        except consul.NotFound:
            logger.info("%s was not registered (already gone)", service_id)
            return
        except consul.ACLPermissionDenied as exc:
            raise RegistryError(f"Consul ACL token may not deregister {service_id}: {exc}") from exc
        except (consul.ConsulException, requests.RequestException) as exc:
            raise self._unavailable(f"deregistering {service_id}", exc) from exc
        logger.info(
            "deregistered %s",
            service_id,
            extra={"event": "deregister", "service_id": service_id, "backend": "consul"},
        )

    def discover(self, name: str, *, refresh: bool = False) -> list[ServiceInstance]:
        fresh_key, good_key = self._key("fresh", name), self._key("good", name)
        if not refresh and self.cache_ttl > 0:
            cached = self.cache.get(fresh_key)
            if cached is not None:
                return [ServiceInstance.from_dict(d) for d in cached]
        try:
            _index, entries = self.client.health.service(name, passing=True)
        except consul.ACLPermissionDenied as exc:
            raise RegistryError(f"Consul ACL token may not read {name!r}: {exc}") from exc
        except (consul.ConsulException, requests.RequestException) as exc:
            known = self.cache.get(good_key)
            if known is None:
                raise self._unavailable(f"discovering {name!r}", exc) from exc
            logger.warning(
                "Consul unreachable (%s: %s): serving the last known healthy instances of %s (%d)",
                type(exc).__name__,
                exc,
                name,
                len(known),
                extra={"event": "discover_fallback", "service": name, "backend": "consul"},
            )
            return [ServiceInstance.from_dict(d) for d in known]
        instances = [self._instance(entry) for entry in entries]
        data = [i.to_dict() for i in instances]
        if self.cache_ttl > 0:
            self.cache.set(fresh_key, data, self.cache_ttl)
        self.cache.set(good_key, data, None)
        return instances

    @staticmethod
    def _instance(entry: Mapping[str, Any]) -> ServiceInstance:
        service = entry["Service"]
        meta = dict(service.get("Meta") or {})
        return ServiceInstance(
            service_id=str(service["ID"]),
            name=str(service["Service"]),
            address=str(service.get("Address") or entry["Node"]["Address"]),
            port=int(service["Port"]),
            scheme=meta.get("scheme", "http"),
            tags=tuple(service.get("Tags") or ()),
            meta=meta,
        )

    def ping(self) -> None:
        try:
            leader = self.client.status.leader()
        except (consul.ConsulException, requests.RequestException) as exc:
            raise self._unavailable("status", exc) from exc
        if not leader:
            raise RegistryUnavailable(f"Consul at {self.host}:{self.port} has no leader")
