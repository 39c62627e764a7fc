"""Django-side pytest fixtures: INTERLINK['SERVICES'] pointed at the running stubs.

Registered by the root conftest.py. Builds on mock_services.pytest_plugin (`stubs`, `stub_token`).

    def test_call(services_settings, reset_stubs): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from django_interlink.clients.testing import services_settings_for


@pytest.fixture
def services_settings(stubs: dict[str, Any], stub_token: str) -> Iterator[dict[str, Any]]:
    """INTERLINK['SERVICES'] -> the running stubs (bearer stub token), contract validation
    "on", millisecond retry backoff; Django's cache (the user cache) is cleared around the test.
    Yields the INTERLINK dict in force."""
    conf = services_settings_for(
        {name: server.url for name, server in stubs.items()},
        stub_token,
        base=getattr(settings, "INTERLINK", {}),
    )
    cache.clear()
    with override_settings(INTERLINK=conf):
        yield conf
    cache.clear()
