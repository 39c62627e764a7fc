"""Fixtures shared by the Django-side suites (clients, events, sagas, shop).

The stub fixtures come from mock_services.pytest_plugin and the client fixtures from
django_interlink.pytest_plugin (both registered by the root conftest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.test import override_settings

from django_interlink.conf import _merge
from django_interlink.events.backends import get_bus, reset_buses
from django_interlink.events.memory import MemoryBus

ClientLog = Callable[..., list[logging.LogRecord]]


@pytest.fixture
def client_log(caplog: pytest.LogCaptureFixture) -> ClientLog:
    """`client_log("call")` / `client_log("retry")`: the service clients' log records so far.

    Each logical call logs one "call" record (service, operation, method, path, status,
    duration_ms, attempts, request_id); each retry logs one "retry" record (status, wait_s).
    """
    caplog.set_level(logging.INFO, logger="django_interlink.clients")

    def records(event: str = "call") -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "django_interlink.clients" and getattr(r, "event", None) == event
        ]

    return records


@pytest.fixture
def memory_bus() -> Iterator[MemoryBus]:
    """The configured bus is a fresh MemoryBus, with fast retries (backoff 0)."""
    conf = _merge(
        getattr(settings, "INTERLINK", {}),
        {"EVENT_BUS": {"BACKEND": "memory", "RETRY_BACKOFF": 0.0, "MAX_DELIVERIES": 3}},
    )
    reset_buses()
    with override_settings(INTERLINK=conf):
        bus = get_bus()
        assert isinstance(bus, MemoryBus)
        yield bus
    reset_buses()
