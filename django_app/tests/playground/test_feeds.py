"""The playground's JSON feeds of a saga: its steps and undo, its events from the outbox through
the bus to the inbox, the dead letters, its calls in the report's words, its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from django_interlink.events.handlers import HandlerRegistry, load_registry
from django_interlink.events.outbox import outbox_relay
from django_interlink.exceptions import PermanentHandlerError
from django_interlink.models import SagaExecution
from django_interlink.sagas.services import saga_create
from mock_services.inventory.store import WIDGET_ID
from project.playground.explain import NOTHING_TO_UNDO
from project.playground.files import TRACES
from shop.clients.users import UserServiceClient
from shop.event_samples import sample_envelope
from shop.order_processing import ORDER_PROCESSING, process_order_request

pytestmark = pytest.mark.django_db


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
