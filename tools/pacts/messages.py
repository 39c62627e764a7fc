"""Message pacts: the events the shop consumes and the events its order saga publishes.

Each message is the envelope as it crosses the broker: the JSON body the relay sends and the
metadata a consumer reads (content type, routing key = event type). The consumer side of a
pact is checked with the consumer's own receive path, `validate_body` (it decodes and validates
against the AsyncAPI document, and dead-letters what fails), plus, for the shop's handlers, a
handler registered for the type. The provider side (`relay_message`) turns an outbox row built
by the real producer code into the body and metadata the RabbitMQ relay publishes.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from pact import Pact, match
from pact.types import Message

from django_interlink.events.contract import encode_event, validate_body
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import load_registry
from django_interlink.events.rabbitmq import RabbitMQBus
from django_interlink.models import OutboxEvent
from shop.event_samples import SAMPLE_DATA
from tools.pacts.http import UUID

HANDLERS = "shop-handlers"
SAGA = "order-saga"
# The saga's events other than order.created have no consumer in this repository: their pact
# stands for any subscriber, reading the envelope and the payload fields the AsyncAPI requires.
SUBSCRIBERS = "event-subscribers"

# (consumer, provider) -> the event types of that pact
MESSAGE_PACTS: dict[tuple[str, str], tuple[str, ...]] = {
    (HANDLERS, "users"): ("user.created",),
    (HANDLERS, SAGA): ("order.created",),
    (SUBSCRIBERS, SAGA): ("payment.processed", "payment.refunded", "order.cancelled"),
}
# Where what is published differs from the sample: the saga charges before the order exists,
# so payment.processed names no order (found by verifying this pact against the saga).
PUBLISHED_AS: dict[str, dict[str, Any]] = {"payment.processed": {"order_id": None}}
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def description(event_type: str) -> str:
    return f"the {event_type} event"


def _like_all(value: Any) -> Any:
    """Type matchers all the way down (arrays: each element like the first)."""
    if isinstance(value, dict):
        return {key: _like_all(item) for key, item in value.items()}
    if isinstance(value, list) and value:
        return match.each_like(_like_all(value[0]))
    return value if value is None else match.like(value)


def expected_envelope(event_type: str) -> dict[str, Any]:
    """The envelope a consumer of `event_type` relies on: its type and version by value, the
    rest by type (the payload from shop.event_samples, which the unit tests keep valid; null
    stays an exact null). All of it: the consumer validates the whole envelope on receipt."""
    return {
        "event_id": match.regex("6f1c2d9e-0000-4000-8000-0000000e0001", regex=UUID),
        "event_type": event_type,
        "version": 1,
        "occurred_at": match.regex("2026-11-25T08:00:00.000000Z", regex=ISO_TIME),
        "producer": match.like("shop"),
        "correlation_id": match.like("3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
        "data": _like_all(
            {**copy.deepcopy(SAMPLE_DATA[event_type]), **PUBLISHED_AS.get(event_type, {})}
        ),
    }


def consume(consumer: str, body: str | bytes | None, metadata: dict[str, object]) -> None:
    """The consumer's side: what it does with a delivery before any handler runs."""
    raw = body.encode() if isinstance(body, str) else (body or b"")
    envelope = validate_body(raw)
    if metadata.get("routingKey") != envelope.event_type:
        raise AssertionError(
            f"routing key {metadata.get('routingKey')!r} is not the event type "
            f"{envelope.event_type!r}"
        )
    if consumer == HANDLERS and not load_registry(["shop.handlers"]).handlers_for(
        envelope.event_type
    ):
        raise AssertionError(f"no shop handler consumes {envelope.event_type}")


def write_message_pacts(out_dir: Path) -> list[Path]:
    written: list[Path] = []
    for (consumer, provider), event_types in MESSAGE_PACTS.items():
        pact = Pact(consumer, provider).with_specification("V4")
        for event_type in event_types:
            (
                pact.upon_receiving(description(event_type), "Async")
                .with_body(expected_envelope(event_type), "application/json")
                .with_metadata({"routingKey": event_type})
            )
        pact.verify(functools.partial(consume, consumer), "Async")
        out_dir.mkdir(parents=True, exist_ok=True)
        pact.write_file(out_dir, overwrite=True)
        written.append(out_dir / f"{consumer}-{provider}.json")
    return written


def relay_message(row: OutboxEvent) -> Message:
    """What the relay publishes for an outbox row: `outbox_relay` rebuilds the envelope from the
    row, the RabbitMQ bus encodes it (contract and size checked) and routes it by event type."""
    envelope = Envelope.from_dict(row.payload)
    properties = RabbitMQBus._properties(envelope)
    return Message(
        contents=encode_event(envelope),
        metadata={"routingKey": envelope.event_type, "type": properties.type},
        content_type=str(properties.content_type),
    )
