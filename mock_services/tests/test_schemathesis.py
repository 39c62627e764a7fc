"""Property-based verification of each stub against its contract (schemathesis, all checks).

Positive and negative data, the examples/coverage/fuzzing phases per operation, and the stateful
phase following the contracts' OpenAPI links; every check, including ignored_auth and ours,
linked_resource_is_available (a stub whose read answers 404 for what it just created fails the
stateful run). Also docs/contracts.md's plain `st` command (verify.OUTSIDER_COMMAND), exactly as
typed, against `python -m mock_services`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any
from unittest import mock

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.schemas import BaseSchema

import mock_services.schemathesis_hooks
from mock_services.contract_rules import CONTRACTS_DIR, load, operations
from mock_services.testing import StubServer
from mock_services.tests.summary import CONTRACTS_RUN, PHASES
from mock_services.verify import (
    AUTH_VARIABLE,
    ROOT,
    SCHEMATHESIS_CONFIG,
    outsider_command,
    run_outsider_command,
)
from servers.waiting import wait_until

MAX_EXAMPLES = 20
STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=25,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
FIND_ONLY = (hypothesis.Phase.explicit, hypothesis.Phase.generate)
SERVICES = ("users", "orders", "payments", "inventory")
# Known when the tests are built (collection), so it can sit in the schemas' config.
TOKEN = secrets.token_urlsafe(24)


def _schema(service: str) -> BaseSchema:
    # schemathesis.toml reads the bearer token from the environment when it is loaded
    # (config-level auth, so schemathesis also knows when it removes the credentials on purpose).
    with mock.patch.dict(os.environ, {AUTH_VARIABLE: TOKEN}):
        config = SchemathesisConfig.from_path(SCHEMATHESIS_CONFIG)
    schema = schemathesis.openapi.from_path(CONTRACTS_DIR / f"{service}.yaml", config=config)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        database="none",
    )
    return schema


STATEFUL_STATUSES: dict[str, Counter[int]] = {service: Counter() for service in SERVICES}
# Steps whose request got a value from an earlier response through one of the contract's own
# links, per service and link name (links schemathesis infers by itself are not counted).
LINKS_FOLLOWED: dict[str, Counter[str]] = {service: Counter() for service in SERVICES}
SCHEMAS = {service: _schema(service) for service in SERVICES}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, StubServer]]:
    """A private stub per service, so generated data never meets other tests."""
    started: dict[str, StubServer] = {}
    try:
        for service in SERVICES:
            started[service] = StubServer(service, TOKEN).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


def _call(service: str, case, servers: dict[str, StubServer]) -> None:
    CONTRACTS_RUN.figures(service).cases[case.meta.phase.name.value] += 1
    case.call_and_validate(base_url=servers[service].url)


@SCHEMAS["users"].parametrize()
def test_users_stub_conforms_to_contract_schemathesis(case, servers):
    """Every generated users request gets a response its contract allows."""
    _call("users", case, servers)


@SCHEMAS["orders"].parametrize()
def test_orders_stub_conforms_to_contract_schemathesis(case, servers):
    """Every generated orders request gets a response its contract allows."""
    _call("orders", case, servers)


@SCHEMAS["payments"].parametrize()
def test_payments_stub_conforms_to_contract_schemathesis(case, servers):
    """Every generated payments request gets a response its contract allows."""
    _call("payments", case, servers)


@SCHEMAS["inventory"].parametrize()
def test_inventory_stub_conforms_to_contract_schemathesis(case, servers):
    """Every generated inventory request gets a response its contract allows."""
    _call("inventory", case, servers)


def _state_machine(
    service: str, server: StubServer, schema: BaseSchema, *, fault: dict[str, Any] | None = None
) -> Any:
    """The contract's state machine against `server`, counting statuses, cases and links.

    Each scenario (and hypothesis' replay of it) starts from the seeded state, plus `fault`
    (keyword arguments of FaultsClient.add) when given; a stub so broken counts in no figure.
    """
    counted = fault is None
    schema.config.update(base_url=server.url)
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            server.reset()
            if fault is not None:
                server.faults.add(**fault)

        def after_call(self, response, case) -> None:
            if counted:
                STATEFUL_STATUSES[service][response.status_code] += 1
            super().after_call(response, case)

        def before_call(self, case) -> None:
            if counted:
                CONTRACTS_RUN.figures(service).cases["stateful"] += 1
            mock_services.schemathesis_hooks.fresh_idempotency_key(case)
            super().before_call(case)

        def step(self, input: StepInput) -> StepOutput:
            link = input.transition
            if counted and link is not None and not link.is_inferred and input.applied_parameters:
                LINKS_FOLLOWED[service][link.id] += 1
            return super().step(input)

    return Machine


@pytest.mark.parametrize("service", SERVICES)
def test_stub_follows_contract_links_statefully_schemathesis(service, servers):
    """The contract's links (create -> read/update/cancel/refund/release) are followed and hold."""
    _state_machine(service, servers[service], SCHEMAS[service]).run(settings=STATEFUL_SETTINGS)
    print(service, dict(STATEFUL_STATUSES[service]), dict(LINKS_FOLLOWED[service]))
    assert LINKS_FOLLOWED[service].total() > 0


# The read each service's create links to; a 404 there must fail the stateful run.
READ_AFTER_CREATE = {
    "users": "/users/{user_id}",
    "orders": "/orders/{order_id}",
    "payments": "/payments/{payment_id}",
    "inventory": "/products/{product_id}",
}


@pytest.mark.parametrize("service", SERVICES)
def test_stateful_run_fails_when_a_created_resource_is_not_readable_schemathesis(service):
    """A GET answering 404 for what POST just created fails the run (linked_resource_is_available).

    Guards the check that stands in for ensure_resource_availability, which never fires on these
    contracts: a private stub whose read always answers 404 (an injected fault).
    """
    fault = {"method": "GET", "path": READ_AFTER_CREATE[service], "kind": "error", "status": 404}
    with StubServer(service, TOKEN) as server:
        # A schema of its own: the machine keeps what earlier runs learnt on the schema (which
        # links pay off), and hypothesis' replays while shrinking then see other strategies.
        machine = _state_machine(service, server, _schema(service), fault=fault | {"times": 0})
        with pytest.raises(FailureGroup) as caught:
            # Finding the failure is the point; shrinking it only replays more scenarios. The same
            # scenarios every run (derandomize), and more of them: a guard must not pass by luck
            # (with random ones, 1 run in ~20 drew no valid request through the link).
            machine.run(
                settings=hypothesis.settings(
                    STATEFUL_SETTINGS, phases=FIND_ONLY, derandomize=True, max_examples=50
                )
            )
    messages = [str(failure) for failure in caught.value.exceptions]
    assert any("linked_resource_is_available" in message for message in messages), messages


@pytest.fixture(scope="module")
def python_m_mock_services() -> Iterator[tuple[dict[str, str], str]]:
    """`python -m mock_services` on free ports, as a newcomer runs it: (urls, its token)."""
    token = secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_SERVICES_")}
    env |= {AUTH_VARIABLE: token, "PYTHONPATH": str(ROOT)}
    ports = [arg for service in SERVICES for arg in (f"--{service}-port", "0")]
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_services", *ports],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        urls = dict(process.stdout.readline().split() for _ in SERVICES)
        wait_until(lambda: _accepting(urls["users"]), timeout=20, interval=0.05, what="the stubs")
        yield urls, token
    finally:
        process.terminate()
        process.communicate(timeout=20)


def _accepting(url: str) -> bool:
    try:
        requests.get(url + "/users/search?q=a", timeout=2)
    except requests.ConnectionError:
        return False
    return True


@pytest.mark.parametrize("service", SERVICES)
def test_readme_st_command_is_green_against_python_m_mock_services_schemathesis(
    service, python_m_mock_services
):
    """docs/contracts.md's `st --config-file ... run ...` (defaults, all phases) finds no issue."""
    urls, token = python_m_mock_services
    assert outsider_command(service, urls[service])[1:] == [
        "--config-file",
        "mock_services/schemathesis.toml",
        "run",
        f"contracts/{service}.yaml",
        "--url",
        urls[service],
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
    ]
    result = run_outsider_command(service, urls[service], token)
    figures = CONTRACTS_RUN.figures(service)
    figures.cli = f"ok ({result.cases} cases)" if result.ok else f"FAILED ({result.failures})"
    expected = sum(1 for _ in operations(load(CONTRACTS_DIR / f"{service}.yaml")))
    assert (result.code, result.failures, result.operations) == (0, 0, expected)
    assert result.phases == dict.fromkeys(PHASES, "success")
    assert result.cases > 0
