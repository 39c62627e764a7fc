"""Fixtures shared by the Django-side suites (clients, events, sagas).

The stub fixtures come from mock_services.pytest_plugin and the client fixtures from
microservices.pytest_plugin (both registered by the root conftest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

ClientLog = Callable[..., list[logging.LogRecord]]


@pytest.fixture
def client_log(caplog: pytest.LogCaptureFixture) -> ClientLog:
    """`client_log("call")` / `client_log("retry")`: the service clients' log records so far.

    Each logical call logs one "call" record (service, operation, method, path, status,
    duration_ms, attempts, request_id); each retry logs one "retry" record (status, wait_s).
    """
    caplog.set_level(logging.INFO, logger="microservices.clients")

    def records(event: str = "call") -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name == "microservices.clients" and getattr(r, "event", None) == event
        ]

    return records
