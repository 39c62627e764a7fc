"""One trace from `POST /api/orders` to every handler, on the real stack: PostgreSQL, RabbitMQ
or Redis, `manage.py runserver`, a `resume_sagas` worker, `relay_outbox` and `consume_events`
as processes, each exporting its spans to a JSON-lines file (OTEL_TRACES_EXPORTER=jsonfile),
the stubs on real sockets in this process recording the `traceparent` each request carried.

The order is placed with a `traceparent` of the test's own: every span found must be in that
trace, under the right parent: the server span under the test's, the saga run under the
server span, each step under the run, each service call (client span) under its step and each
stub request under its client span, each event's publish under the step that emitted it, each
handler's process span under that publish; a saga taken over by a second worker links its
run to the one it interrupted.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.live_server import DjangoServer
from tests.shop.support import Shop, two_items

from django_interlink.models import SagaExecution
from django_interlink.sagas.crash import CRASH_ENV
from integration_tests.event_helpers import stop_process
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until
from shop.api.services import customer_token_issue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

LOCMEM_MAIL = "django.core.mail.backends.locmem.EmailBackend"
VISA = {"type": "card", "token": "tok_visa"}
DECLINED = {"type": "card", "token": "tok_declined"}
SAGA = "order_processing"
WORKER = ["resume_sagas", "--poll-interval", "0.1"]
FORWARD = ["validate_user", "reserve_inventory", "process_payment", "create_order"]
# the events the saga emits on the happy path, the step that emits each, and their handlers
EVENTS = {
    "payment.processed": ("process_payment", ["trace.payment_processed"]),
    "order.created": ("create_order", ["orders.statistics_and_stock_check"]),
}


class Trace:
    """The spans of one trace, read from every process's file."""

    def __init__(self, spans: list[dict[str, Any]], trace_id: str) -> None:
        self.trace_id = f"0x{trace_id}"
        self.spans = [s for s in spans if s["context"]["trace_id"] == self.trace_id]
        self.by_id = {s["context"]["span_id"]: s for s in self.spans}

    def named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"] == name]

    def one(self, name: str) -> dict[str, Any]:
        found = self.named(name)
        assert len(found) == 1, (name, [s["name"] for s in self.spans])
        return found[0]

    def children(self, parent: dict[str, Any], kind: str | None = None) -> list[dict[str, Any]]:
        return [
            s
            for s in self.spans
            if s["parent_id"] == parent["context"]["span_id"]
            and (kind is None or s["kind"] == f"SpanKind.{kind}")
        ]


def read_spans(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def traced_env(base: dict[str, str], spans_dir: Path, service: str) -> dict[str, str]:
    return {
        **base,
        "OTEL_TRACES_EXPORTER": "jsonfile",
        "OTEL_SERVICE_NAME": service,
        "INTERLINK_TRACES_FILE": str(spans_dir / f"{service}-{{pid}}.jsonl"),
    }


@pytest.fixture(params=["rabbitmq", "redis"])
def bus(request: pytest.FixtureRequest) -> dict[str, str]:
    """The bus of this run: its backend and URL for the sub-processes."""
    if request.param == "rabbitmq":
        url = request.getfixturevalue("rabbitmq").url
        return {"EVENT_BUS_BACKEND": "rabbitmq", "RABBITMQ_URL": url}
    url = request.getfixturevalue("redis_server").url
    return {"EVENT_BUS_BACKEND": "redis", "REDIS_URL": url}


@pytest.fixture
def stack(
    postgres, stubs, stub_token, reset_stubs, bus, unique_name, tmp_path
) -> Iterator[dict[str, Any]]:
    """The server, the relay and a consumer, all exporting spans to files; `start` starts
    another process (a saga worker) the same way."""
    spans_dir = tmp_path / "spans"
    spans_dir.mkdir()
    urls = {f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()}
    base = django_subprocess_env(
        SERVICES_API_KEY=stub_token, EMAIL_BACKEND=LOCMEM_MAIL, LOG_LEVEL="WARNING", **urls, **bus
    )
    backend = bus["EVENT_BUS_BACKEND"]
    names = ["--exchange", unique_name, "--stream-prefix", unique_name]
    consume = [
        "consume_events",
        *EVENTS,
        "--bus",
        backend,
        "--group",
        unique_name,
        *names,
        "--handler-module",
        "shop.handlers",
        "--handler-module",
        "integration_tests.trace_handlers",
    ]
    # queues and consumer groups first, so the relay's first publish has somewhere to go
    subprocess.run(
        manage_py_argv(*consume, "--declare-only"), env=base, check=True, capture_output=True
    )
    processes: list[subprocess.Popen[bytes]] = []

    def start(service: str, *argv: str, **env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            manage_py_argv(*argv),
            env={**traced_env(base, spans_dir, service), **env},
            stdout=(tmp_path / f"{service}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    start("relay", "relay_outbox", "--bus", backend, "--interval", "0.1", *names)
    start("consumer", *consume)
    try:
        with DjangoServer(traced_env(base, spans_dir, "api"), tmp_path / "api.log") as server:
            yield {
                "server": server,
                "spans": spans_dir,
                "stubs": reset_stubs,
                "bus": backend,
                "start": start,
            }
    finally:
        for process in processes:
            stop_process(process)


@pytest.fixture
def customer(services_settings, reset_stubs) -> dict[str, str]:
    shop = Shop(reset_stubs)
    try:
        user_id = shop.user()
    finally:
        shop.close()
    token, _ = customer_token_issue(username=f"ada-{uuid.uuid4().hex[:6]}", user_id=user_id)
    return {"Authorization": f"Bearer {token}"}


def place_traced(server: DjangoServer, headers: dict[str, str], payment: dict[str, str]):
    """POST /api/orders in a trace of the test's own; (trace id, our span id, saga id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    response = requests.post(
        f"{server.url}/api/orders",
        json={"items": two_items(), "currency": "USD", "payment_method": payment},
        headers={
            **headers,
            "Idempotency-Key": str(uuid.uuid4()),
            "traceparent": f"00-{trace_id}-{span_id}-01",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return trace_id, span_id, response.json()["id"]


def wait_for_spans(stack: dict[str, Any], trace_id: str, names: list[str]) -> Trace:
    found: list[Trace] = []

    def all_there() -> bool:
        found[:] = [Trace(read_spans(stack["spans"]), trace_id)]
        return all(found[0].named(name) for name in names)

    wait_until(all_there, timeout=90, interval=0.3, what=f"spans {names}")
    return found[0]


def check_steps(trace: Trace, run: dict[str, Any], steps: list[str]) -> list[dict[str, Any]]:
    """Each step (or undo) is a span of the worker under the run; returns them."""
    found = []
    for name in steps:
        step = trace.one(name)
        assert step["parent_id"] == run["context"]["span_id"], name
        assert step["resource"]["attributes"]["service.name"] == "worker"
        found.append(step)
    return found


def check_calls(
    trace: Trace, callers: list[dict[str, Any]], stubs: dict[str, Any]
) -> dict[str, set[str]]:
    """Each stub request of this trace is under an HTTP client span whose parent is one of
    `callers` (the steps, the handlers' process spans). Which stubs each caller called."""
    clients: dict[str, str] = {}  # client span id -> its caller's name
    for caller in callers:
        for client in trace.children(caller, "CLIENT"):
            attributes = client["attributes"]
            # the requests instrumentation: the old HTTP semantic conventions unless opted in
            if attributes.get("http.method") or attributes.get("http.request.method"):
                clients[client["context"]["span_id"][2:]] = caller["name"]
    called: dict[str, set[str]] = {}
    for service, stub in stubs.items():
        for item in stub.requests():
            _, trace_id, parent, _ = (item.get("traceparent") or "-x-x-").split("-")
            if f"0x{trace_id}" == trace.trace_id:
                assert parent in clients, (service, item["method"], item["path"])
                called.setdefault(clients[parent], set()).add(service)
    return called


def test_one_trace_runs_from_the_request_through_the_saga_to_every_handler(stack, customer):
    """A completed order: the server span, the run and its steps, the service calls and the
    stubs' requests, each event's publish and process spans, all in the test's trace."""
    stack["start"]("worker", *WORKER)
    trace_id, our_span, saga_id = place_traced(stack["server"], customer, VISA)
    wait_until(
        lambda: SagaExecution.objects.get(saga_id=saga_id).status == "completed",
        timeout=90,
        what="the order saga to complete",
    )
    trace = wait_for_spans(stack, trace_id, [f"process {event_type}" for event_type in EVENTS])
    (server,) = [s for s in trace.spans if s["kind"] == "SpanKind.SERVER"]
    assert server["parent_id"] == f"0x{our_span}"
    assert server["resource"]["attributes"]["service.name"] == "api"
    assert server["attributes"]["django_interlink.request_id"]
    run = trace.one(f"saga {SAGA}")
    assert run["parent_id"] == server["context"]["span_id"]
    assert run["attributes"]["django_interlink.saga.id"] == saga_id
    steps = [f"saga {SAGA} step {name}" for name in [*FORWARD, "send_confirmation"]]
    callers = check_steps(trace, run, steps) + [
        trace.one(f"process {event_type}") for event_type in EVENTS
    ]
    called = check_calls(trace, callers, stack["stubs"])
    assert called == {
        f"saga {SAGA} step validate_user": {"users"},
        f"saga {SAGA} step reserve_inventory": {"inventory"},
        f"saga {SAGA} step process_payment": {"payments"},
        f"saga {SAGA} step create_order": {"orders"},
        # the handler's prepare step reads the stock levels
        "process order.created": {"inventory"},
    }
    for event_type, (step, handlers) in EVENTS.items():
        publish = trace.one(f"publish {event_type}")
        assert publish["kind"] == "SpanKind.PRODUCER"
        assert publish["resource"]["attributes"]["service.name"] == "relay"
        assert publish["parent_id"] == trace.one(f"saga {SAGA} step {step}")["context"]["span_id"]
        assert publish["attributes"]["messaging.system"] == stack["bus"]
        assert publish["attributes"]["django_interlink.outcome"] == "confirmed"
        process = trace.one(f"process {event_type}")
        assert process["kind"] == "SpanKind.CONSUMER"
        assert process["resource"]["attributes"]["service.name"] == "consumer"
        assert process["parent_id"] == publish["context"]["span_id"]
        assert list(process["attributes"]["django_interlink.handlers"]) == handlers
        assert process["attributes"]["django_interlink.request_id"] == saga_id
        assert process["status"]["status_code"] == "UNSET"


# no event is published when the card is declined: one bus is enough
@pytest.mark.parametrize("bus", ["rabbitmq"], indirect=True)
def test_a_declined_order_traces_its_compensations(stack, customer):
    """tok_declined: the failed step and both undos are spans of the same run, in the
    request's trace, each undo's service calls under it."""
    stack["start"]("worker", *WORKER)
    trace_id, _, saga_id = place_traced(stack["server"], customer, DECLINED)
    wait_until(
        lambda: SagaExecution.objects.get(saga_id=saga_id).status == "compensated",
        timeout=90,
        what="the order saga to be undone",
    )
    undos = [f"saga {SAGA} compensation {s}" for s in ("process_payment", "reserve_inventory")]
    trace = wait_for_spans(stack, trace_id, [f"saga {SAGA}"])
    run = trace.one(f"saga {SAGA}")
    (server,) = [s for s in trace.spans if s["kind"] == "SpanKind.SERVER"]
    assert run["parent_id"] == server["context"]["span_id"]
    failed = trace.one(f"saga {SAGA} step process_payment")
    assert failed["status"]["status_code"] == "ERROR"
    steps = [f"saga {SAGA} step {s}" for s in FORWARD[:3]]
    called = check_calls(trace, check_steps(trace, run, steps + undos), stack["stubs"])
    assert called[f"saga {SAGA} compensation reserve_inventory"] == {"inventory"}


@pytest.mark.parametrize("bus", ["rabbitmq"], indirect=True)
def test_a_saga_resumed_by_another_worker_continues_the_trace_with_a_link(stack, customer):
    """The first worker is SIGKILLed after the payment call returned; the second takes the
    saga over once the lease lapses: its run is another child of the request's span, linked
    to the run it interrupted, and the steps it runs are under it."""
    trace_id, _, saga_id = place_traced(stack["server"], customer, VISA)
    first = stack["start"](
        "worker-1", *WORKER, "--lease-seconds", "2", **{CRASH_ENV: "after_action:process_payment"}
    )
    assert first.wait(timeout=90) == -signal.SIGKILL
    stack["start"]("worker-2", *WORKER)
    wait_until(
        lambda: SagaExecution.objects.get(saga_id=saga_id).status == "completed",
        timeout=90,
        what="the second worker to complete the saga",
    )
    trace = wait_for_spans(stack, trace_id, [f"saga {SAGA}", "process order.created"])
    (server,) = [s for s in trace.spans if s["kind"] == "SpanKind.SERVER"]
    # the killed run's span never ended; the steps it finished name it as their parent
    early = trace.one(f"saga {SAGA} step validate_user")
    assert early["resource"]["attributes"]["service.name"] == "worker-1"
    run = trace.one(f"saga {SAGA}")
    assert run["resource"]["attributes"]["service.name"] == "worker-2"
    assert run["parent_id"] == server["context"]["span_id"]
    assert run["attributes"]["django_interlink.saga.resumed"] is True
    (link,) = run["links"]
    assert link["context"]["trace_id"] == trace.trace_id
    assert link["context"]["span_id"] == early["parent_id"]
    assert link["attributes"] == {"django_interlink.link": "interrupted run"}
    for step in ("process_payment", "create_order"):
        (resumed,) = [
            s
            for s in trace.named(f"saga {SAGA} step {step}")
            if s["resource"]["attributes"]["service.name"] == "worker-2"
        ]
        assert resumed["parent_id"] == run["context"]["span_id"]
