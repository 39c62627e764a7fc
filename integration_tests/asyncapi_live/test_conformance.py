"""Each AsyncAPI message, written to the outbox and relayed by `relay_outbox --once` to a real
RabbitMQ and a real Redis, read back with pika and redis-py: it went to its channel's address,
carries what the document says about it (content type, correlation id, any `headers` schema),
and its payload validates against its schema (jsonschema on the document's own files).

One test per message per broker, so the JUnit report reads as a table of the document.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from jsonschema import Draft202012Validator

from django_interlink.events.outbox import outbox_enqueue
from django_interlink.models import OutboxEvent, OutboxStatus
from integration_tests.asyncapi_live.document import Message, message, messages, payload_errors
from integration_tests.asyncapi_live.document import pointer as at_pointer
from integration_tests.asyncapi_live.payloads import valid_payloads
from integration_tests.asyncapi_live.wire import (
    Delivered,
    amqp_taken,
    amqp_tap,
    redis_client,
    redis_entries,
)
from integration_tests.event_helpers import configured_bus

NAMES = [m.name for m in messages()]


def enqueue_one(msg: Message) -> dict[str, Any]:
    """One valid payload of the message, through the outbox in a transaction of its own."""
    (payload,) = valid_payloads(msg, 1)
    with transaction.atomic():
        envelope = outbox_enqueue(
            msg.name,
            payload["data"],
            version=payload["version"],
            correlation_id=payload["correlation_id"],
            producer=payload["producer"],
        )
    return envelope.to_dict()


def assert_conforms(msg: Message, sent: dict[str, Any], delivered: list[Delivered]) -> None:
    """One message, at the channel's address, its correlation id where the document says, its
    headers and payload valid against the document's schemas."""
    assert [d.destination for d in delivered] == [msg.address]
    (one,) = delivered
    assert one.body is not None
    payload = json.loads(one.body)
    assert payload_errors(msg, payload) == []
    assert payload == sent
    correlation_id = at_pointer(payload, msg.correlation_pointer)
    assert isinstance(correlation_id, str)
    assert correlation_id == sent["correlation_id"]
    # Where the transport carries a correlation id of its own too, it is the same one.
    assert one.headers.get("correlation_id", correlation_id) == correlation_id
    if msg.headers is not None:
        errors = [e.message for e in Draft202012Validator(msg.headers).iter_errors(one.headers)]
        assert errors == []
    assert OutboxEvent.objects.get(event_id=sent["event_id"]).status == OutboxStatus.SENT


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", NAMES)
def test_rabbitmq_carries_the_message_as_documented(rabbitmq, unique_name, name):
    """Routing key == channel address, content type as documented, persistent, the AMQP
    message id the event id; the payload valid against its schema."""
    msg = message(name)
    with (
        configured_bus("rabbitmq", rabbitmq.url, unique_name),
        amqp_tap(rabbitmq.url, unique_name) as channel,
    ):
        sent = enqueue_one(msg)
        call_command("relay_outbox", "--once", "--bus", "rabbitmq", "--exchange", unique_name)
        delivered = amqp_taken(channel, f"{unique_name}.tap")
    assert_conforms(msg, sent, delivered)
    (one,) = delivered
    assert one.headers["content_type"] == msg.content_type
    assert one.headers["message_id"] == sent["event_id"]
    assert one.headers["delivery_mode"] == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", NAMES)
def test_redis_carries_the_message_as_documented(redis_server, unique_name, name):
    """Stream == <prefix>:<channel address>, the envelope in its documented field (JSON, the
    document's content type), the entry's event id the envelope's."""
    msg = message(name)
    client = redis_client(redis_server.url)
    try:
        with configured_bus("redis", redis_server.url, unique_name):
            sent = enqueue_one(msg)
            call_command("relay_outbox", "--once", "--bus", "redis", "--stream-prefix", unique_name)
        delivered = redis_entries(client, unique_name)
    finally:
        client.close()
    assert msg.content_type == "application/json"  # what the envelope field is decoded as
    assert_conforms(msg, sent, delivered)
    assert delivered[0].headers["event_id"] == sent["event_id"]
