"""Fixtures for the order saga suites: settings for the stubs and a `shop` to arrange and check."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from django_interlink.conf import _merge
from django_interlink.events.backends import get_bus, reset_buses
from django_interlink.events.memory import MemoryBus

from .support import Shop


@pytest.fixture
def saga_settings(services_settings: dict[str, Any]):
    """services_settings plus quick compensation retries and a short client timeout."""
    conf = dict(services_settings)
    conf["SAGA"] = {
        **conf.get("SAGA", {}),
        "LEASE_SECONDS": 30,
        "STEP_TIMEOUT": 10.0,
        "COMPENSATION_ATTEMPTS": 3,
        "COMPENSATION_BACKOFF": 0.01,
    }
    with override_settings(INTERLINK=conf):
        yield conf


@pytest.fixture
def shop(saga_settings, reset_stubs):
    s = Shop(reset_stubs)
    yield s
    s.close()


@pytest.fixture
def checkout_bus(shop, saga_settings):
    """A fresh MemoryBus for the choreographed checkout, over the stubs' settings: no wait
    before a retry, and a breaker that pauses a consumer at most 50 ms after a 503."""
    conf = _merge(
        saga_settings,
        {
            "EVENT_BUS": {
                "BACKEND": "memory",
                "RETRY_BACKOFF": 0.0,
                "RECONNECT_BACKOFF_MAX": 0.05,
            }
        },
    )
    reset_buses()
    with override_settings(INTERLINK=conf):
        bus = get_bus()
        assert isinstance(bus, MemoryBus)
        yield bus
    reset_buses()
