"""The service registry contract: register, deregister, discover, choose an instance.

Backends (static.py, consul.py) implement `register_service`, `deregister_service`, `_lookup`
and `ping`; this base class adds the choice among instances (round robin or random) and
`get_registry()` picks the backend named by INTERLINK['REGISTRY']['BACKEND'].
"""

from __future__ import annotations

import abc
import random
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ..conf import ms_settings
from ..exceptions import RegistryError, ServiceNotFound

STRATEGIES = ("round_robin", "random")
BACKENDS = {
    "static": "django_interlink.registry.static.StaticRegistry",
    "consul": "django_interlink.registry.consul.ConsulRegistry",
}


@dataclass(frozen=True)
class ServiceInstance:
    """One healthy instance of a service, as discovery returns it."""

    service_id: str
    name: str
    address: str
    port: int
    scheme: str = "http"
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    path: str = ""  # a base path after host:port, for static URLs such as http://gw/users

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "service_id": self.service_id,
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "scheme": self.scheme,
            "tags": list(self.tags),
            "meta": dict(self.meta),
            "path": self.path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceInstance:
        return cls(
            service_id=str(data["service_id"]),
            name=str(data["name"]),
            address=str(data["address"]),
            port=int(data["port"]),
            scheme=str(data.get("scheme", "http")),
            tags=tuple(data.get("tags", ())),
            meta=dict(data.get("meta", {})),
            path=str(data.get("path", "")),
        )


class ServiceRegistry(abc.ABC):
    """Where services register themselves and find each other."""

    def __init__(self, *, strategy: str = "round_robin") -> None:
        if strategy not in STRATEGIES:
            raise RegistryError(f"unknown registry STRATEGY {strategy!r}; one of {STRATEGIES}")
        self.strategy = strategy
        self._turns: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- what a backend implements ---------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def from_settings(cls) -> ServiceRegistry:
        """An instance configured from INTERLINK['REGISTRY']."""

    @abc.abstractmethod
    def register_service(
        self,
        name: str,
        address: str,
        port: int,
        health_check_url: str,
        tags: Collection[str] = (),
        meta: Mapping[str, str] | None = None,
    ) -> str:
        """Register one instance with an HTTP health check; returns its service id."""

    @abc.abstractmethod
    def deregister_service(self, service_id: str) -> None:
        """Remove an instance registered by `register_service`."""

    @abc.abstractmethod
    def discover(self, name: str, *, refresh: bool = False) -> list[ServiceInstance]:
        """All healthy instances of `name` (may be empty); `refresh` bypasses any cache.

        Raises RegistryUnavailable when the registry can't be asked and nothing is known.
        """

    @abc.abstractmethod
    def ping(self) -> None:
        """Return if the registry answers; raise RegistryUnavailable otherwise (for /health/)."""

    # -- shared ----------------------------------------------------------------------------

    def choose(
        self, name: str, instances: list[ServiceInstance], *, exclude: Collection[str] = ()
    ) -> ServiceInstance:
        """Pick one instance (round robin or random), skipping service ids in `exclude`."""
        candidates = [i for i in instances if i.service_id not in exclude]
        if not candidates:
            raise ServiceNotFound(f"no healthy instance of {name!r}", service=name)
        if self.strategy == "random":
            return random.choice(candidates)
        with self._lock:
            turn = self._turns.get(name, 0)
            if not exclude:  # a failover pick does not take the next caller's turn
                self._turns[name] = turn + 1
        return candidates[turn % len(candidates)]

    def get_instance(
        self, name: str, *, exclude: Collection[str] = (), refresh: bool = False
    ) -> ServiceInstance:
        return self.choose(name, self.discover(name, refresh=refresh), exclude=exclude)

    def get_service_url(self, name: str) -> str:
        """The base URL of one healthy instance of `name`; ServiceNotFound when there is none."""
        return self.get_instance(name).url


_registry: ServiceRegistry | None = None
_registry_lock = threading.Lock()


def build_registry() -> ServiceRegistry:
    """A new registry of the configured backend (a name in BACKENDS or a dotted class path)."""
    backend = str(ms_settings.REGISTRY["BACKEND"])
    try:
        cls = import_string(BACKENDS.get(backend, backend))
    except ImportError as exc:
        raise RegistryError(f"REGISTRY BACKEND {backend!r} can't be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, ServiceRegistry)):
        raise RegistryError(f"REGISTRY BACKEND {backend!r} is not a ServiceRegistry")
    return cls.from_settings()


def get_registry() -> ServiceRegistry:
    """The process-wide registry, rebuilt when INTERLINK settings change."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = build_registry()
        return _registry


def reset_registry() -> None:
    global _registry
    with _registry_lock:
        _registry = None


@receiver(setting_changed, dispatch_uid="django_interlink.registry.reset")
def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "INTERLINK":
        reset_registry()
