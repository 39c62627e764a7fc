"""The event contracts: the AsyncAPI document, its schemas, and validation on both sides."""

from __future__ import annotations

import json

import pytest
import yaml

from django_interlink.conf import ms_settings
from django_interlink.events.contract import encode_event, get_contract, validate_body
from django_interlink.events.envelope import Envelope
from django_interlink.exceptions import EventContractViolation
from shop.event_samples import SAMPLE_DATA, sample_envelope

EVENT_TYPES = [
    "user.created",
    "user.updated",
    "order.created",
    "order.cancelled",
    "payment.processed",
    "payment.refunded",
    "inventory.reserved",
    "inventory.released",
    "inventory.low",
    # the choreographed checkout (shop/choreography/)
    "checkout.requested",
    "checkout.customer_verified",
    "checkout.customer_rejected",
    "checkout.stock_reserved",
    "checkout.stock_refused",
    "checkout.payment_captured",
    "checkout.payment_failed",
    "checkout.order_placed",
    "checkout.order_failed",
    "checkout.payment_refunded",
    "checkout.stock_released",
]


def test_contract_describes_exactly_the_event_types_of_both_order_flows():
    """The AsyncAPI document lists the nine event types of the issue and the choreographed
    checkout's eleven, each with a schema."""
    assert get_contract().event_types == sorted(EVENT_TYPES)


def test_asyncapi_document_is_version_3_and_every_schema_file_is_referenced():
    """No schema file drifts away from the AsyncAPI document, and it is AsyncAPI 3.0."""
    directory = ms_settings.contracts_dir / "events"
    document = yaml.safe_load((directory / "asyncapi.yaml").read_text())
    assert document["asyncapi"] == "3.0.0"
    referenced = {
        m["payload"]["schema"]["$ref"].removeprefix("./schemas/")
        for m in document["components"]["messages"].values()
    }
    on_disk = {p.name for p in (directory / "schemas").glob("*.v*.json")}
    assert referenced == on_disk
    channels = {c["address"] for c in document["channels"].values()}
    assert channels == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_sample_of_each_event_type_is_valid_and_round_trips(event_type):
    """Each sample validates, and decoding the encoded body gives back the same envelope."""
    envelope = sample_envelope(event_type)
    body = encode_event(envelope)
    assert validate_body(body) == envelope


def test_publishing_an_event_type_the_contract_does_not_describe_fails():
    """Unknown types are refused before anything is sent."""
    with pytest.raises(EventContractViolation, match="no contract"):
        encode_event(Envelope.new("user.deleted", {"user_id": "x"}))


def test_unknown_version_is_refused():
    """Version 2 of user.created is not described, so it is not accepted."""
    envelope = Envelope.new("user.created", SAMPLE_DATA["user.created"], version=2)
    with pytest.raises(EventContractViolation, match="version 2"):
        encode_event(envelope)


@pytest.mark.parametrize(
    ("event_type", "data", "where"),
    [
        ("user.created", {"user_id": "not-a-uuid", "email": "a@b.c", "name": "A"}, "user_id"),
        ("order.created", {**SAMPLE_DATA["order.created"], "items": []}, "items"),
        ("order.created", {**SAMPLE_DATA["order.created"], "currency": "eur"}, "currency"),
        ("payment.processed", {**SAMPLE_DATA["payment.processed"], "amount": -1}, "amount"),
    ],
)
def test_schema_violations_name_the_offending_field(event_type, data, where):
    """A payload breaking its schema is refused, and the message points at the field."""
    with pytest.raises(EventContractViolation) as info:
        encode_event(Envelope.new(event_type, data))
    assert where in str(info.value)


def test_extra_fields_in_data_are_tolerated_but_not_in_the_envelope():
    """Producers may add data fields (tolerant reader); the envelope itself is closed."""
    envelope = sample_envelope("user.created", nickname="ada")
    encode_event(envelope)
    body = json.dumps({**envelope.to_dict(), "priority": 1}).encode()
    with pytest.raises(EventContractViolation, match="priority"):
        validate_body(body)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"event_type": "user.created"}', b"\xff\xfe"],
    ids=["invalid-json", "not-an-object", "missing-envelope-fields", "not-utf8"],
)
def test_bodies_that_are_not_envelopes_are_contract_violations(body):
    """Whatever arrives, a malformed body is reported as EventContractViolation, never crashes."""
    with pytest.raises(EventContractViolation):
        validate_body(body)


def test_oversized_events_are_refused_on_both_sides():
    """A 1 MB payload exceeds MAX_EVENT_BYTES on publish and on receipt."""
    envelope = sample_envelope("user.created", name="x" * 200, bio="y" * 1_000_000)
    with pytest.raises(EventContractViolation, match="limit"):
        encode_event(envelope)
    with pytest.raises(EventContractViolation, match="limit"):
        validate_body(envelope.to_bytes())


def test_correlation_id_defaults_to_the_current_request_id():
    """An event created while serving a request carries that request's id."""
    from django_interlink.request_id import bind_request_id

    with bind_request_id("req-123"):
        envelope = Envelope.new("user.created", SAMPLE_DATA["user.created"])
    assert envelope.correlation_id == "req-123"
    assert envelope.producer == ms_settings.EVENT_BUS["PRODUCER"]
