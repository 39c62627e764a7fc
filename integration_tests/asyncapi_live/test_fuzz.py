"""The consumers fuzzed on the live brokers with payloads generated from the event schemas.

Per message and broker: VALID payloads drawn from its schema (the first one published twice) and
up to three invalid ones (a required field of `data` dropped, one of the wrong type, one outside
its constraint), published raw with pika / redis-py, then the real consumer loop (`bus.consume`
with a message budget) on them. Each valid one is handled exactly once (a handler counter and
one inbox row); each invalid one is in the group's dead letters with a reason naming the broken
field; the consumer settles all of them and handles the valid one published after the invalid
ones.

The handler is the test's own for every type: the shop's handlers call services and look up rows
the generated ids do not name, and what is checked here is the consumer, not the shop.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.models import InboxEvent
from integration_tests.asyncapi_live.document import Message, message, messages
from integration_tests.asyncapi_live.payloads import Invalid, invalid_payloads, valid_payloads
from integration_tests.asyncapi_live.wire import (
    amqp_dead_reasons,
    amqp_publish,
    redis_client,
    redis_dead_reasons,
    redis_publish,
)
from integration_tests.event_helpers import configured_bus

NAMES = [m.name for m in messages()]
VALID = 10  # payloads drawn per message and broker


class Fuzz:
    """One message's fuzzed payloads, in the order they are published, and what was handled."""

    def __init__(self, msg: Message) -> None:
        self.msg = msg
        self.valid = valid_payloads(msg, VALID)
        self.invalid: list[Invalid] = invalid_payloads(msg, self.valid[0])
        half = VALID // 2
        # The first valid one twice (a broker delivers at least once: the inbox makes it once);
        # the last valid one after every invalid one: the consumer must still be there.
        self.published: list[dict[str, Any]] = [
            *self.valid[:half],
            self.valid[0],
            *(invalid.payload for invalid in self.invalid),
            *self.valid[half:],
        ]
        self.handled: list[str] = []
        self.registry = HandlerRegistry()
        self.registry.add(msg.name, self._handle, name=f"fuzz.{msg.name}")

    def _handle(self, envelope: Envelope) -> None:
        self.handled.append(envelope.event_id)

    def assert_outcome(self, settled: int, dead: dict[str, str]) -> None:
        valid_ids = [payload["event_id"] for payload in self.valid]
        assert settled == len(self.published)
        assert Counter(self.handled) == Counter(valid_ids)  # each once, none of the invalid
        assert self.handled[-1] == valid_ids[-1]  # handled after every invalid one
        inbox = Counter(InboxEvent.objects.values_list("event_id", flat=True))
        assert {str(event_id): n for event_id, n in inbox.items()} == dict.fromkeys(valid_ids, 1)
        assert sorted(dead) == sorted(invalid.payload["event_id"] for invalid in self.invalid)
        for invalid in self.invalid:
            reason = dead[invalid.payload["event_id"]]
            assert invalid.field in reason, f"{invalid.how} {invalid.field}: {reason}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", NAMES)
def test_rabbitmq_consumer_handles_valid_payloads_once_and_dead_letters_invalid_ones(
    rabbitmq, unique_name, name
):
    """Generated payloads on RabbitMQ: valid ones handled once, invalid ones dead-lettered with
    the field named, the consumer alive after them."""
    fuzz = Fuzz(message(name))
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        bus.declare([name])
        for payload in fuzz.published:
            amqp_publish(rabbitmq.url, unique_name, fuzz.msg.address, payload)
        settled = bus.consume(
            registry=fuzz.registry, max_messages=len(fuzz.published), idle_timeout=10
        )
    fuzz.assert_outcome(settled, amqp_dead_reasons(rabbitmq.url, unique_name))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", NAMES)
def test_redis_consumer_handles_valid_payloads_once_and_dead_letters_invalid_ones(
    redis_server, unique_name, name
):
    """Generated payloads on Redis Streams: valid ones handled once, invalid ones in the dead
    stream with the field named, the consumer alive after them."""
    fuzz = Fuzz(message(name))
    client = redis_client(redis_server.url)
    try:
        with configured_bus("redis", redis_server.url, unique_name) as bus:
            bus.declare([name])
            for payload in fuzz.published:
                redis_publish(client, unique_name, fuzz.msg.address, payload)
            settled = bus.consume(
                registry=fuzz.registry, max_messages=len(fuzz.published), idle_timeout=10
            )
        dead = redis_dead_reasons(client, unique_name, unique_name)
    finally:
        client.close()
    fuzz.assert_outcome(settled, dead)
