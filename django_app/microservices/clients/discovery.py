"""`DiscoveryServiceClient`: a ServiceClient whose base URL comes from the service registry.

Each call goes to an instance the registry chooses. When an instance can't be reached, the call
asks the registry again (bypassing its cache) and is sent to another healthy instance, once per
instance, before ServiceConnectionError is raised (connect errors are not retried on the same
instance: the next instance is the retry). A POST without Idempotency-Key moves on only
when the connection was never made, since otherwise the first instance may have applied it.
"""

from __future__ import annotations

import logging
import threading

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from ..exceptions import ServiceConnectionError, ServiceNotFound
from ..registry.base import ServiceInstance, ServiceRegistry, get_registry
from .base import ServiceClient
from .transport import may_retry

logger = logging.getLogger("microservices.clients")


def _never_connected(exc: BaseException) -> bool:
    """True when the cause chain shows the TCP connection was never established."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(seen, "reason", None)
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return True
        if isinstance(seen, requests.ConnectionError) and seen.args:
            inner = getattr(seen.args[0], "reason", None)
            if isinstance(inner, NewConnectionError | ConnectTimeoutError):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


class DiscoveryServiceClient(ServiceClient):
    """ServiceClient of a service found through the registry (MICROSERVICES['REGISTRY'])."""

    def __init__(
        self,
        service: str | None = None,
        *,
        registry: ServiceRegistry | None = None,
        discovery_name: str | None = None,
    ) -> None:
        super().__init__(service)
        self._registry = registry
        #: the name instances are registered under (default: the service's settings key)
        self.discovery_name = discovery_name or self.service
        self._local = threading.local()  # the instance the current call on this thread uses

    def build_retry(self) -> Retry:
        # A refused or timed-out connect moves the call to the next instance at once instead of
        # backing off on the dead one; read errors and 429/5xx keep the base policy.
        return super().build_retry().new(connect=0)

    @property
    def registry(self) -> ServiceRegistry:
        return self._registry if self._registry is not None else get_registry()

    def resolve_base_url(self) -> str:
        instance = self.registry.get_instance(self.discovery_name)
        self._local.instance = instance
        return instance.url

    def send(
        self, prepared: requests.PreparedRequest, *, timeout: tuple[float, float], operation: str
    ) -> requests.Response:
        instance: ServiceInstance | None = getattr(self._local, "instance", None)
        if instance is None:  # send() called without resolve_base_url(): nothing to fail over to
            return super().send(prepared, timeout=timeout, operation=operation)
        tried: list[str] = []
        while True:
            tried.append(instance.service_id)
            try:
                return super().send(prepared, timeout=timeout, operation=operation)
            except ServiceConnectionError as exc:
                may_move = may_retry(prepared) or _never_connected(exc)
                nxt = self._next_instance(tried) if may_move else None
                if nxt is None:
                    raise ServiceConnectionError(
                        f"{self.service}.{operation}: no reachable instance "
                        f"(tried {', '.join(tried)})",
                        service=self.service,
                        operation=operation,
                    ) from exc
                logger.warning(
                    "%s.%s: %s unreachable, failing over to %s",
                    self.service,
                    operation,
                    instance.service_id,
                    nxt.service_id,
                    extra={
                        "event": "failover",
                        "service": self.service,
                        "operation": operation,
                        "from_instance": instance.service_id,
                        "to_instance": nxt.service_id,
                    },
                )
                prepared = self._retarget(prepared, instance, nxt)
                instance = nxt
                self._local.instance = nxt

    def _next_instance(self, tried: list[str]) -> ServiceInstance | None:
        try:
            return self.registry.get_instance(self.discovery_name, exclude=tried, refresh=True)
        except ServiceNotFound:
            return None

    @staticmethod
    def _retarget(
        prepared: requests.PreparedRequest, old: ServiceInstance, new: ServiceInstance
    ) -> requests.PreparedRequest:
        copy = prepared.copy()
        url = prepared.url or ""
        copy.url = new.url + url[len(old.url) :] if url.startswith(old.url) else url
        return copy
