"""Typed clients as the app's own code gets them: discovery-aware when configured, one per thread.

Configuration picks the endpoint strategy, so no client class changes: `build_client(cls)` makes a
`cls` whose endpoint is a `RegistryFailover` when the service's DISCOVERY setting is on, the
static BASE_URL otherwise. `client_for(cls)` keeps one per class and thread, so a saga step or
an event handler reuses its keep-alive connections instead of opening new ones per call; the
cache is dropped when INTERLINK changes (override_settings).
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar, cast

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import ms_settings
from .base import ServiceClient
from .discovery import RegistryFailover

C = TypeVar("C", bound=ServiceClient)

_local = threading.local()


def build_client(cls: type[C]) -> C:
    """A new client of `cls`'s service, through the registry when its DISCOVERY setting is on;
    the caller closes it."""
    if not ms_settings.service(cls.service_name)["DISCOVERY"]:
        return cls()
    return cls(endpoint=RegistryFailover(cls.service_name))


def client_for(cls: type[C]) -> C:
    """This thread's shared client of `cls` (built on first use; not to be closed by callers)."""
    cache: dict[type[ServiceClient], ServiceClient] = _local.__dict__.setdefault("clients", {})
    client = cache.get(cls)
    if client is None:
        client = cache[cls] = build_client(cls)
    return cast(C, client)


@receiver(setting_changed, dispatch_uid="django_interlink.clients.factory.reset")
def _reset_clients(*, setting: str, **kwargs: Any) -> None:
    if setting == "INTERLINK":
        # Only this thread's cache can be reached; tests change settings on the same thread.
        for client in _local.__dict__.pop("clients", {}).values():
            client.close()
