"""The playground's views: login required, a customer's API token for the page (its orders go
through POST /api/orders and run no step in the request), faults checked as the stubs'
FaultSpec and forwarded, the JSON feeds."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from django_interlink.events.handlers import HandlerRegistry, load_registry
from django_interlink.events.outbox import outbox_relay
from django_interlink.exceptions import PermanentHandlerError
from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.sagas.services import saga_create
from mock_services.inventory.store import GADGET_ID, SOLD_OUT_ID, WIDGET_ID
from project.playground.explain import NOTHING_TO_UNDO
from project.playground.files import KILL_AFTER_CHARGE, TRACES, WORKERS, write_json
from shop.clients.users import UserServiceClient
from shop.event_samples import sample_envelope
from shop.models import Customer
from shop.order_processing import ORDER_PROCESSING, process_order_request

pytestmark = pytest.mark.django_db

JSON_VIEWS = [
    ("post", "playground:token", ["ada"]),
    ("get", "playground:status", []),
    ("get", "playground:faults", []),
    ("post", "playground:kill", []),
    ("get", "playground:saga", ["s-1"]),
    ("get", "playground:events", ["s-1"]),
    ("get", "playground:calls", ["s-1"]),
    ("get", "playground:verdict", ["s-1", "declined-card"]),
]


def _post(client: Client, name: str, body: Any, *args: str) -> Any:
    return client.post(reverse(name, args=list(args)), json.dumps(body), "application/json")


ORDER = {
    "items": [{"product_id": WIDGET_ID, "quantity": 2}],
    "currency": "USD",
    "payment_method": {"type": "card", "token": "tok_visa"},
}


def test_the_page_sends_an_anonymous_visitor_to_the_login(playground_dir: Path, client: Client):
    response = client.get(reverse("playground:page"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("playground:login"))


@pytest.mark.parametrize(("method", "name", "args"), JSON_VIEWS)
def test_every_feed_and_action_refuses_an_anonymous_caller(
    playground_dir: Path, client: Client, method: str, name: str, args: list[str]
):
    response = getattr(client, method)(reverse(name, args=args))
    assert (response.status_code, response.json()["title"]) == (401, "log in first")


@pytest.mark.parametrize(("method", "name", "args"), JSON_VIEWS)
def test_a_user_who_is_not_staff_is_refused(
    playground_dir: Path, client: Client, method: str, name: str, args: list[str]
):
    client.force_login(User.objects.create_user("customer", password="pw-for-tests"))
    response = getattr(client, method)(reverse(name, args=args))
    assert response.status_code == 403
    assert client.get(reverse("playground:page")).status_code == 403


def test_the_login_form_logs_a_staff_user_in(playground_dir: Path, client: Client):
    User.objects.create_user("pg-staff", password="pw-for-tests", is_staff=True)
    bad = client.post(reverse("playground:login"), {"username": "pg-staff", "password": "no"})
    assert bad.status_code == 200
    assert "Wrong username or password" in bad.content.decode()
    response = client.post(
        reverse("playground:login"), {"username": "pg-staff", "password": "pw-for-tests"}
    )
    assert (response.status_code, response["Location"]) == (302, reverse("playground:page"))


def test_the_page_offers_the_customers_cards_and_every_stub_operation(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    response = staff.get(reverse("playground:page"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<option value="ada">Ada Lovelace</option>' in html
    for token in ("tok_visa", "tok_declined", "tok_insufficient_funds"):
        assert f'value="{token}"' in html
    config = response.context["config"]
    assert {"method": "POST", "path": "/payments"} in config["operations"]["payments"]
    assert {"method": "POST", "path": "/reservations"} in config["operations"]["inventory"]
    # Nothing from the network: the scripts (the page's, its explanations', the presets' and the
    # flow switch's) and the one stylesheet are our static files.
    assert "https://" not in html and "//cdn" not in html
    assert re.findall(r'<script src="([^"]+)"', html) == [
        "/static/playground/choreography.js",
        "/static/playground/playground.js",
        "/static/playground/explain.js",
        "/static/playground/presets.js",
    ]


def test_the_page_shows_the_prices_the_inventory_stub_holds_now(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    """The catalogue's prices, read through the inventory client: a price changed in the stub
    is the one the page shows, and the order the page sends names none."""
    registered_stubs["inventory"].app.state.runtime.store.set_price(WIDGET_ID, 1399)
    response = staff.get(reverse("playground:page"))
    html = response.content.decode()
    shown = {p["id"]: (p["unit_price"], p["currency"]) for p in response.context["products"]}
    assert shown == {WIDGET_ID: (1399, "USD"), GADGET_ID: (4999, "USD"), SOLD_OUT_ID: (800, "USD")}
    assert f'<small class="price" data-product="{WIDGET_ID}">1399 ¢ USD, 100 available' in html
    assert "data-price" not in html


def test_the_page_gets_a_customer_token_that_places_orders_through_the_api(
    staff: Client, registered_stubs: dict[str, Any]
):
    account = User.objects.create(username="ada")
    Customer.objects.create(account=account, user_id=uuid.UUID(WIDGET_ID))
    issued = staff.post(reverse("playground:token", args=["ada"]))
    assert issued.status_code == 200
    token = issued.json()["token"]
    api = Client()
    response = api.post(
        reverse("shop_api:orders"),
        json.dumps(ORDER),
        "application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "pg-test-1"},
    )
    assert response.status_code == 202
    saga_id = response.json()["id"]
    execution = SagaExecution.objects.get(saga_id=saga_id)
    assert (execution.status, execution.lease_owner) == ("pending", "")
    assert execution.context_data["user_id"] == WIDGET_ID
    # Nothing ran in the request: no step attempt, no call to any stub.
    assert SagaStepLog.objects.filter(execution=execution).count() == 0
    assert [stub.requests() for stub in registered_stubs.values()] == [[], [], [], []]
    # The playground's feed of the same saga.
    feed = staff.get(reverse("playground:saga", args=[saga_id])).json()
    assert (feed["status"], feed["steps"], feed["card"]) == ("pending", [], "tok_visa")


def test_a_token_only_for_a_customer_of_the_playground(staff: Client):
    User.objects.create(username="not-a-customer")
    response = staff.post(reverse("playground:token", args=["not-a-customer"]))
    assert (response.status_code, response.json()["title"]) == (404, "no customer not-a-customer")
    assert staff.get(reverse("playground:token", args=["ada"])).status_code == 405


def test_a_body_that_is_not_a_json_object_is_refused(staff: Client):
    response = staff.post(reverse("playground:faults"), "[1, 2]", "application/json")
    assert (response.status_code, response.json()["title"]) == (400, "a JSON object is expected")


def test_a_valid_fault_is_forwarded_to_the_stub_as_given(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    spec = {"method": "post", "path": "/payments", "kind": "rate_limit", "retry_after": 2}
    response = _post(staff, "playground:faults", {"service": "payments", **spec, "times": 3})
    assert response.status_code == 201
    [held] = registered_stubs["payments"].faults.list()
    assert held["id"] == response.json()["id"]
    assert (held["method"], held["path"], held["kind"], held["retry_after"], held["times"]) == (
        "POST",
        "/payments",
        "rate_limit",
        2,
        3,
    )
    listed = staff.get(reverse("playground:faults")).json()["faults"]
    assert [(f["service"], f["id"]) for f in listed] == [("payments", held["id"])]
    cleared = staff.delete(reverse("playground:faults"))
    assert cleared.json() == {"faults": []}
    assert registered_stubs["payments"].faults.list() == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"service": "billing", "method": "GET", "path": "*", "kind": "drop"}, ["service"]),
        ({"service": "payments", "method": "POST", "path": "*", "kind": "explode"}, ["kind"]),
        (
            {
                "service": "payments",
                "method": "POST",
                "path": "*",
                "kind": "latency",
                "status": 503,
            },
            [],
        ),
        ({"service": "payments", "method": "PO ST", "path": "*", "kind": "drop"}, ["method"]),
        ({"service": "payments", "method": "GET", "path": "*", "kind": "drop", "x": 1}, ["x"]),
        (
            {"service": "payments", "method": "GET", "path": "*", "kind": "drop", "times": -1},
            ["times"],
        ),
    ],
)
def test_a_bad_fault_is_refused_and_nothing_reaches_the_stub(
    staff: Client,
    registered_stubs: dict[str, Any],
    services_settings: dict[str, Any],
    body: dict[str, Any],
    where: list[str],
):
    response = _post(staff, "playground:faults", body)
    assert (response.status_code, response.json()["title"]) == (400, "invalid fault")
    assert [e["loc"] for e in response.json()["errors"]] == [where]
    assert all(stub.faults.list() == [] for stub in registered_stubs.values())


def test_the_kill_switch_is_a_flag_file_the_status_feed_reports(
    staff: Client, playground_dir: Path
):
    write_json(playground_dir / WORKERS, {"pid": 41, "started": 2, "exits": [{"pid": 40}]})
    assert staff.post(reverse("playground:kill")).json() == {"kill_armed": True}
    assert (playground_dir / KILL_AFTER_CHARGE).exists()
    worker = staff.get(reverse("playground:status")).json()["worker"]
    assert worker == {"pid": 41, "started": 2, "exits": [{"pid": 40}], "kill_armed": True}
    assert staff.delete(reverse("playground:kill")).json() == {"kill_armed": False}
    assert not (playground_dir / KILL_AFTER_CHARGE).exists()


def test_the_saga_feed_of_a_declined_order_lists_the_undo_in_reverse(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    user = UserServiceClient().create_user(email="ada@example.com", name="Ada")
    items = [{"product_id": WIDGET_ID, "quantity": 1}]
    result = process_order_request(user["id"], items, "tok_declined", saga_id="pg-declined")
    assert result.status == "compensated"
    feed = staff.get(reverse("playground:saga", args=["pg-declined"])).json()
    assert feed["forward"] == ["validate_user", "reserve_inventory", "process_payment"]
    # The payment's undo made no call, and says why; the inventory's had something to undo.
    assert feed["compensations"] == [
        {"name": "process_payment", "note": NOTHING_TO_UNDO},
        {"name": "reserve_inventory", "note": ""},
    ]
    assert feed["lease"]["state"] == "released"
    assert [s["outcome"] for s in feed["steps"] if s["direction"] == "action"] == [
        "succeeded",
        "succeeded",
        "rejected",
    ]
    assert feed["timeline"].startswith("<svg") and "process_payment" in feed["timeline"]
    pk = SagaExecution.objects.get(saga_id="pg-declined").pk
    assert feed["admin_url"] == f"/admin/interlink/sagaexecution/{pk}/change/"
    calls = staff.get(reverse("playground:calls", args=["pg-declined"])).json()
    assert calls["charges"] == []
    assert [(c["service"], c["path"], c["key"]) for c in calls["calls"]][-2:] == [
        ("payments", "/payments", "process_payment:action"),
        (
            "inventory",
            f"/reservations/{result.context['reservations']['0']['id']}/release",
            "reserve_inventory:compensation:0",
        ),
    ]
    # Each call belongs to the step attempt that made it; the layers count them per attempt.
    assert calls["calls"][-1]["attempt"] == "reserve_inventory · undo #1"
    payment = next(
        layer
        for layer in calls["layers"]
        if (layer["step"], layer["direction"]) == ("process_payment", "action")
    )
    assert (payment["attempts_allowed"], payment["requests_per_call"]) == (5, 4)
    assert [(a["status"], [r["status"] for r in a["requests"]]) for a in payment["attempts"]] == [
        ("rejected", [402])
    ]
    verdict = staff.get(reverse("playground:verdict", args=["pg-declined", "declined-card"]))
    assert (verdict.json()["finished"], verdict.json()["met"]) == (True, True)
    wrong = staff.get(reverse("playground:verdict", args=["pg-declined", "lost-response"]))
    assert wrong.json()["met"] is False
    unknown = staff.get(reverse("playground:verdict", args=["pg-declined", "no-such"]))
    assert (unknown.status_code, unknown.json()["title"]) == (404, "no preset no-such")


def test_an_unknown_saga_is_a_404(staff: Client):
    response = staff.get(reverse("playground:saga", args=["pg-nothing"]))
    assert (response.status_code, response.json()["title"]) == (404, "no saga pg-nothing")


def test_the_events_feed_follows_each_event_from_outbox_to_bus_to_inbox(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any], memory_bus
):
    user = UserServiceClient().create_user(email="ada@example.com", name="Ada")
    items = [{"product_id": WIDGET_ID, "quantity": 1}]
    assert process_order_request(user["id"], items, "tok_visa", saga_id="pg-ok").succeeded

    def feed() -> dict[str, tuple[str, bool, list[tuple[str, bool]]]]:
        events = staff.get(reverse("playground:events", args=["pg-ok"])).json()["events"]
        return {
            e["event_type"]: (
                e["outbox"],
                e["on_bus"],
                [(h["name"], h["done"]) for h in e["handlers"]],
            )
            for e in events
        }

    handler = "orders.statistics_and_stock_check"
    assert feed() == {
        "payment.processed": ("pending", False, []),
        "order.created": ("pending", False, [(handler, False)]),
    }
    registry = load_registry()
    memory_bus.declare(registry.event_types)  # the consumer's queues exist before the relay
    outbox_relay(bus=memory_bus)
    assert feed()["order.created"] == ("sent", True, [(handler, False)])
    memory_bus.consume(registry=registry, idle_timeout=0.2)
    assert feed()["order.created"] == ("sent", True, [(handler, True)])
    charges = staff.get(reverse("playground:calls", args=["pg-ok"])).json()["charges"]
    assert [(c["amount"], c["status"]) for c in charges] == [(1250, "captured")]


def test_the_status_feed_lists_the_memory_bus_dead_letters(staff: Client, memory_bus):
    """What the consumer gave up on shows on the page, with its reason and attempts."""

    def refuse(envelope: Any) -> None:
        raise PermanentHandlerError("no such shop")

    registry = HandlerRegistry()
    registry.add("user.created", refuse, name="test.refuse")
    memory_bus.declare(["user.created"])
    sent = sample_envelope("user.created")
    memory_bus.publish(sent)
    memory_bus.consume(registry=registry, max_messages=1, idle_timeout=2)
    dead = staff.get(reverse("playground:status")).json()["dead_letters"]
    assert [(d["event_id"], d["reason"], d["attempts"]) for d in dead] == [
        (sent.event_id, "test.refuse: no such shop", 1)
    ]


def test_the_calls_feed_marks_a_replayed_payment_with_the_reports_words(
    staff: Client, registered_stubs: dict[str, Any], services_settings: dict[str, Any]
):
    """The payment's response is lost: its keyed retry is answered from the stub's store, and
    the feed says so (the one replay rule of project/demo/report/replays.py)."""
    user = UserServiceClient().create_user(email="ada@example.com", name="Ada")
    registered_stubs["payments"].faults.add(
        method="POST", path="/payments", kind="lost_response", times=1
    )
    items = [{"product_id": WIDGET_ID, "quantity": 1}]
    assert process_order_request(user["id"], items, "tok_visa", saga_id="pg-lost").succeeded
    calls = staff.get(reverse("playground:calls", args=["pg-lost"])).json()["calls"]
    posts = [c for c in calls if c["path"] == "/payments"]
    assert [(c["status"], c["replayed"]) for c in posts] == [(None, False), (201, True)]
    assert [c["replay"] for c in calls if c["replay"]] == [
        f"replayed: same Idempotency-Key as +{posts[0]['t_ms']:.0f} ms, answered from the"
        " stub's idempotency store"
    ]
    assert calls[0]["t_ms"] == 0.0


def test_the_trace_feed_draws_the_saga_s_trace_from_the_processes_span_files(
    staff: Client, playground_dir: Path
):
    """trace.json: the spans of the saga's trace (its stored traceparent's) from every file in
    the traces folder, as bars under their parents and as the waterfall; another trace's span
    and a half-written line are left out."""
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    saga_create(definition=ORDER_PROCESSING, saga_id="pg-traced", context={"user_id": WIDGET_ID})
    SagaExecution.objects.filter(saga_id="pg-traced").update(
        trace_context={"traceparent": f"00-{trace_id}-{parent}-01"}
    )
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    under = TraceContextTextMapPropagator().extract({"traceparent": f"00-{trace_id}-{parent}-01"})
    with tracer.start_as_current_span("saga order_processing", context=under):
        tracer.start_span("saga order_processing step validate_user").end()
    tracer.start_span("another trace's span").end()
    folder = playground_dir / TRACES
    folder.mkdir()
    lines = [span.to_json(indent=None) for span in exporter.get_finished_spans()]
    (folder / "spans-1.jsonl").write_text(lines[0] + "\n" + lines[2] + "\n")
    (folder / "spans-2.jsonl").write_text(lines[1] + "\n" + lines[1][:40])
    feed = staff.get(reverse("playground:trace", args=["pg-traced"])).json()
    assert feed["trace_id"] == trace_id
    assert [(s["name"], s["parent_id"] is None) for s in feed["spans"]] == [
        ("saga order_processing", True),
        ("saga order_processing step validate_user", False),
    ]
    assert feed["svg"].startswith('<svg xmlns="http://www.w3.org/2000/svg" class="trace-waterfall"')
    assert 'data-name="saga order_processing step validate_user"' in feed["svg"]
    missing = staff.get(reverse("playground:trace", args=["pg-nothing"]))
    assert missing.status_code == 404
