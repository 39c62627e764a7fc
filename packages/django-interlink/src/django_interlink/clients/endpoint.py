"""Where a call goes: the endpoint strategy a `ServiceClient` holds, and the static one.

A client holds where its calls go as an object (composition), so the same client class serves a
fixed URL or the registry. The client knows how to make a call; its `Endpoint` knows where the
call goes and where it goes next when that fails. `StaticEndpoint` sends everything to one base
URL; `discovery.RegistryFailover` asks the service registry and fails over between its
instances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import requests
from django.core.exceptions import ImproperlyConfigured
from urllib3.util.retry import Retry

# Sends one prepared request to the URL it names; transport failures as typed ServiceErrors.
Transmit = Callable[[requests.PreparedRequest], requests.Response]


class Route(Protocol):
    """The way of one call: the base URL it starts from, and how it is sent from there."""

    @property
    def base_url(self) -> str: ...

    def send(
        self,
        prepared: requests.PreparedRequest,
        transmit: Transmit,
        *,
        service: str,
        operation: str,
    ) -> requests.Response:
        """Send `prepared` (built on `base_url`) with `transmit`, retargeting it if need be."""
        ...


class Endpoint(Protocol):
    """A client's strategy for choosing where its calls go."""

    def adapt_retry(self, retry: Retry) -> Retry:
        """The retry policy to use, given the one the service's RETRY settings describe."""
        ...

    def route(self) -> Route:
        """The route of the next call (raises before anything is sent if there is none)."""
        ...


@dataclass(frozen=True)
class DirectRoute:
    """Straight to one base URL, nowhere else to go."""

    base_url: str

    def send(
        self,
        prepared: requests.PreparedRequest,
        transmit: Transmit,
        *,
        service: str,
        operation: str,
    ) -> requests.Response:
        return transmit(prepared)


@dataclass(frozen=True)
class StaticEndpoint:
    """Every call goes to `url`, by default the service's BASE_URL setting."""

    url: str
    service: str = ""  # only to name the missing setting when `url` is empty

    def adapt_retry(self, retry: Retry) -> Retry:
        return retry

    def route(self) -> DirectRoute:
        if not self.url:
            raise ImproperlyConfigured(f"INTERLINK['SERVICES'][{self.service!r}] has no BASE_URL")
        return DirectRoute(self.url)

    def __str__(self) -> str:
        return self.url or "(no BASE_URL)"
