"""Shared helpers of the stub tests: a per-module stub factory and the schemathesis case tally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from mock_services.testing import StubServer

# Cases schemathesis ran per service in this session (printed in the terminal summary).
SCHEMATHESIS_CASES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCHEMATHESIS_CASES:
        terminalreporter.section("schemathesis cases run per service")
        for service, count in sorted(SCHEMATHESIS_CASES.items()):
            terminalreporter.write_line(f"{service:<10} {count}")
        terminalreporter.write_line(f"{'total':<10} {sum(SCHEMATHESIS_CASES.values())}")


class Api:
    """requests against one stub, authenticated unless told otherwise."""

    def __init__(self, server: StubServer, token: str) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.url + path, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: object) -> requests.Response:
        return self.request("PUT", path, **kwargs)


@pytest.fixture
def api(reset_stubs: dict[str, StubServer], stub_token: str) -> Iterator[dict[str, Api]]:
    """One authenticated client per freshly reset stub of the session."""
    clients = {name: Api(server, stub_token) for name, server in reset_stubs.items()}
    yield clients
    for client in clients.values():
        client.session.close()
