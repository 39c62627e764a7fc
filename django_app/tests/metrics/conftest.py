"""A HEALTH token for the /metrics suites, and a scrape that parses the answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from django_interlink.conf import _merge

from .scrape import Samples, parse

TOKEN = "metrics-test-token"


@pytest.fixture
def metrics_token() -> Iterator[str]:
    conf = _merge(getattr(settings, "INTERLINK", {}), {"HEALTH": {"TOKEN": TOKEN}})
    with override_settings(INTERLINK=conf):
        yield TOKEN


@pytest.fixture
def scrape(client: Client, metrics_token: str) -> Callable[..., Samples]:
    """GET /metrics with the token: 200 and the parsed samples."""

    def get(**headers: Any) -> Samples:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}", **headers)
        assert response.status_code == 200
        return parse(response.content.decode())

    return get
