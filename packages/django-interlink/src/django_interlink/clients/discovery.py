"""`RegistryFailover`: the endpoint strategy that finds a service's instances in the registry.

A call that cannot reach one instance is sent to the next, so one dead instance costs a retry,
not a failed call. Each call goes to an instance the registry chooses. When it can't be reached,
the registry is asked again (bypassing its cache) for an instance not yet tried, and the call is
sent there, once per instance, before ServiceConnectionError is raised (connect errors are not
retried on the same instance). A POST without Idempotency-Key moves on only when the connection
was never made, since otherwise the first instance may have applied it. Which instance comes
first, and what is served while the registry itself is down (its last known good answer), is the
registry's call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from urllib3.util.retry import Retry

from ..exceptions import ServiceConnectionError, ServiceNotFound
from ..registry.base import ServiceInstance, ServiceRegistry, get_registry
from .endpoint import Transmit
from .transport import may_retry

logger = logging.getLogger("django_interlink.clients")


class RegistryFailover:
    """Calls go to instances of `name` found through the registry (INTERLINK['REGISTRY'])."""

    def __init__(self, name: str, *, registry: ServiceRegistry | None = None) -> None:
        self.name = name  # the name instances are registered under
        self._registry = registry

    @property
    def registry(self) -> ServiceRegistry:
        # Looked up per call: get_registry() is rebuilt when INTERLINK changes.
        return self._registry if self._registry is not None else get_registry()

    def adapt_retry(self, retry: Retry) -> Retry:
        # A refused or timed-out connect moves the call to the next instance at once instead of
        # backing off on the dead one; read errors and 429/5xx keep the service's policy.
        return retry.new(connect=0)

    def route(self) -> FailoverRoute:
        registry = self.registry
        return FailoverRoute(registry, self.name, registry.get_instance(self.name))

    def __str__(self) -> str:
        return f"(registry: {self.name})"


@dataclass(frozen=True)
class FailoverRoute:
    """One call's way through the instances of a service, starting at `first`."""

    registry: ServiceRegistry
    name: str
    first: ServiceInstance

    @property
    def base_url(self) -> str:
        return self.first.url

    def send(
        self,
        prepared: requests.PreparedRequest,
        transmit: Transmit,
        *,
        service: str,
        operation: str,
    ) -> requests.Response:
        instance = self.first
        tried: list[str] = []
        while True:
            tried.append(instance.service_id)
            try:
                return transmit(prepared)
            except ServiceConnectionError as exc:
                # A keyless POST moves on only if no attempt of it can have arrived.
                may_move = may_retry(prepared) or not exc.sent_unanswered
                nxt = self._next_instance(tried) if may_move else None
                if nxt is None:
                    raise ServiceConnectionError(
                        f"{service}.{operation}: no reachable instance (tried {', '.join(tried)})",
                        service=service,
                        operation=operation,
                        sent_unanswered=exc.sent_unanswered,
                    ) from exc
                logger.warning(
                    "%s.%s: %s unreachable, failing over to %s",
                    service,
                    operation,
                    instance.service_id,
                    nxt.service_id,
                    extra={
                        "event": "failover",
                        "service": service,
                        "operation": operation,
                        "from_instance": instance.service_id,
                        "to_instance": nxt.service_id,
                    },
                )
                prepared = _retarget(prepared, instance, nxt)
                instance = nxt

    def _next_instance(self, tried: list[str]) -> ServiceInstance | None:
        try:
            return self.registry.get_instance(self.name, exclude=tried, refresh=True)
        except ServiceNotFound:
            return None


def _retarget(
    prepared: requests.PreparedRequest, old: ServiceInstance, new: ServiceInstance
) -> requests.PreparedRequest:
    copy = prepared.copy()
    url = prepared.url or ""
    copy.url = new.url + url[len(old.url) :] if url.startswith(old.url) else url
    return copy
