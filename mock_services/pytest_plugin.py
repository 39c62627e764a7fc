"""pytest fixtures: the four stubs on real sockets for the whole session, reset per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from mock_services.common.app import SERVICE_NAMES
from mock_services.testing import StubServer


@pytest.fixture(scope="session")
def stub_token() -> str:
    """A random bearer token for this session's stubs."""
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def stubs(stub_token: str) -> Iterator[dict[str, StubServer]]:
    """users, orders, payments and inventory stubs, each on a free port of 127.0.0.1."""
    servers: dict[str, StubServer] = {}
    try:
        for service in SERVICE_NAMES:
            servers[service] = StubServer(service, stub_token).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def reset_stubs(stubs: dict[str, StubServer]) -> dict[str, StubServer]:
    """The session's stubs, reset to their seeded start state (data, idempotency, faults)."""
    for server in stubs.values():
        server.reset()
    return stubs
