"""Fixtures of the registry tests: settings with a given REGISTRY, a port nobody listens on."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from django_interlink.registry.base import reset_registry


@pytest.fixture
def dead_url() -> str:
    """http://127.0.0.1:<port> where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def registry_settings() -> Iterator[Callable[..., dict[str, Any]]]:
    """`registry_settings(BACKEND=..., INSTANCES=...)`: INTERLINK with those REGISTRY keys."""
    overrides: list[Any] = []

    def apply(base: dict[str, Any] | None = None, **registry: Any) -> dict[str, Any]:
        conf = dict(base if base is not None else getattr(settings, "INTERLINK", {}))
        conf["REGISTRY"] = {**conf.get("REGISTRY", {}), **registry}
        override = override_settings(INTERLINK=conf)
        override.enable()
        overrides.append(override)
        return conf

    cache.clear()
    yield apply
    for override in reversed(overrides):
        override.disable()
    reset_registry()
    cache.clear()
