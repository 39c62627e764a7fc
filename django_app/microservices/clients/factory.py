"""Typed clients as the app's own code gets them: discovery-aware when configured, one per thread.

`build_client(cls)` makes a client of `cls`'s service, found through the registry when the
service's DISCOVERY setting is on. `client_for(cls)` keeps one per class and thread, so a saga
step or an event handler reuses its keep-alive connections instead of opening new ones per call;
the cache is dropped when MICROSERVICES changes (override_settings).
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar, cast

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import ms_settings
from .base import ServiceClient
from .discovery import DiscoveryServiceClient

C = TypeVar("C", bound=ServiceClient)

_local = threading.local()


def build_client(cls: type[C]) -> C:
    """A new client of `cls`'s service (the typed methods of `cls` over DiscoveryServiceClient's
    send path when the service's DISCOVERY setting is on); the caller closes it."""
    if not ms_settings.service(cls.service_name)["DISCOVERY"]:
        return cls()
    discovered = type(f"Discovery{cls.__name__}", (DiscoveryServiceClient, cls), {})
    return cast(C, discovered())


def client_for(cls: type[C]) -> C:
    """This thread's shared client of `cls` (built on first use; not to be closed by callers)."""
    cache: dict[type[ServiceClient], ServiceClient] = _local.__dict__.setdefault("clients", {})
    client = cache.get(cls)
    if client is None:
        client = cache[cls] = build_client(cls)
    return cast(C, client)


@receiver(setting_changed, dispatch_uid="microservices.clients.factory.reset")
def _reset_clients(*, setting: str, **kwargs: Any) -> None:
    if setting == "MICROSERVICES":
        # Only this thread's cache can be reached; tests change settings on the same thread.
        for client in _local.__dict__.pop("clients", {}).values():
            client.close()
