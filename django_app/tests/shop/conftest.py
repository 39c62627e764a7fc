"""Fixtures for the order saga suites: settings for the stubs and a `shop` to arrange and check."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

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
    with override_settings(MICROSERVICES=conf):
        yield conf


@pytest.fixture
def shop(saga_settings, reset_stubs):
    s = Shop(reset_stubs)
    yield s
    s.close()
