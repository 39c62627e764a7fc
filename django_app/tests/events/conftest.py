"""Fixtures of the events unit tests: a fresh in-memory bus configured as THE bus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings

from microservices.conf import _merge
from microservices.events.bus import get_bus, reset_buses
from microservices.events.memory import MemoryBus


@pytest.fixture
def memory_bus() -> Iterator[MemoryBus]:
    """The configured bus is a fresh MemoryBus, with fast retries (backoff 0)."""
    conf = _merge(
        getattr(settings, "MICROSERVICES", {}),
        {"EVENT_BUS": {"BACKEND": "memory", "RETRY_BACKOFF": 0.0, "MAX_DELIVERIES": 3}},
    )
    reset_buses()
    with override_settings(MICROSERVICES=conf):
        bus = get_bus()
        assert isinstance(bus, MemoryBus)
        yield bus
    reset_buses()
