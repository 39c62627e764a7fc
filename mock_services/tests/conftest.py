"""Shared helpers of the stub tests: an authenticated client per stub, and the contracts report."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from mock_services.testing import StubServer
from mock_services.tests.summary import CONTRACTS_RUN


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        CONTRACTS_RUN.record_outcome(report.nodeid, report.outcome)


@pytest.fixture(scope="session", autouse=True)
def contracts_report(
    request: pytest.FixtureRequest, record_testsuite_property: Callable[[str, object], None]
) -> Iterator[None]:
    """After the last stub test: the figures as JUnit testsuite properties and as Markdown."""
    yield
    if not CONTRACTS_RUN.services:
        return
    for name, value in CONTRACTS_RUN.properties():
        record_testsuite_property(name, value)
    xmlpath = request.config.option.xmlpath
    if xmlpath:
        path = Path(xmlpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name(f"{path.stem}-summary.md").write_text(
            CONTRACTS_RUN.markdown(), encoding="utf-8"
        )
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(CONTRACTS_RUN.markdown())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CONTRACTS_RUN.services:
        terminalreporter.section("contracts per service (schemathesis cases by phase)")
        for line in CONTRACTS_RUN.text():
            terminalreporter.write_line(line)


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
