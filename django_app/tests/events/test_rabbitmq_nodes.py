"""RABBITMQ_URL naming a cluster: parsing, the shuffle, the checks, the queue arguments, and how
a publisher that lost its node sends again only what was not confirmed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pika
import pytest
from django.test import override_settings

from django_interlink.conf import _merge, ms_settings
from django_interlink.events.checks import check_event_bus
from django_interlink.events.publish_outcomes import Declined
from django_interlink.events.rabbitmq import RabbitMQBus
from django_interlink.events.rabbitmq_nodes import (
    RabbitMQURLError,
    connection_parameters,
    failover_delay,
    rabbitmq_urls,
    shuffled,
)
from django_interlink.events.rabbitmq_publisher import ConfirmingPublisher, Outgoing, PublisherLost
from django_interlink.events.rabbitmq_topology import Topology
from django_interlink.exceptions import EventError

A = "amqp://u:secret@rabbit1:5672/%2F"
B = "amqp://u:secret@rabbit2:5673/%2F"
C = "amqps://u:secret@rabbit3/%2F"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (A, [A]),
        (f"{A},{B},{C}", [A, B, C]),
        (f" {A} , {B} ", [A, B]),
        ([A, B, C], [A, B, C]),
        ((A, B), [A, B]),
        ([A, A, B], [A, B]),
    ],
)
def test_rabbitmq_url_names_one_node_or_several(setting, expected):
    """One URL, comma-separated URLs or a list: the same list of nodes, in order, once each."""
    assert rabbitmq_urls(setting) == expected


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("", r"entry 1 \(empty\) is not an amqp"),
        (f"{A},,{B}", r"entry 2 \(empty\)"),
        (f"{A},http://u:secret@web:80/", r"entry 2 \(web:80/\) is not an amqp"),
        ([A, 5672], "entry 2 is a int"),
        ([], "names no node"),
        (42, "not int"),
        ("amqp://u:secret@rabbit1:notaport/", r"entry 1 \(an unparsable URL\)"),
    ],
)
def test_a_bad_entry_is_named_by_position_without_its_credentials(setting, message):
    """The typed error says which entry is wrong and why; the password never appears."""
    with pytest.raises(RabbitMQURLError, match=message) as caught:
        rabbitmq_urls(setting)
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value, EventError) and isinstance(caught.value, ValueError)


def test_shuffle_spreads_clients_over_every_node_in_every_order():
    """Each client gets the nodes in a random order: all orders of three nodes come up, so every
    node is somebody's first choice."""
    rng = random.Random(19)
    orders = {tuple(shuffled([A, B, C], rng)) for _ in range(200)}
    assert len(orders) == 6
    assert {order[0] for order in orders} == {A, B, C}


def test_connection_parameters_try_each_node_once_in_the_shuffled_order():
    """One URLParameters per node, each tried once (a dead node is skipped, not retried)."""
    rng = random.Random(7)
    expected = shuffled([A, B, C], random.Random(7))
    nodes = connection_parameters([A, B, C], rng)
    assert [(p.host, p.port) for p in nodes] == [
        (pika.URLParameters(url).host, pika.URLParameters(url).port) for url in expected
    ]
    assert {p.connection_attempts for p in nodes} == {1}


@pytest.mark.parametrize(
    ("attempt", "nodes", "expected"),
    [(1, 3, 0.0), (2, 3, 0.1), (3, 3, 0.2), (1, 1, 0.1), (2, 1, 0.2), (20, 3, 5.0)],
)
def test_failover_goes_at_once_to_the_other_nodes_then_backs_off(attempt, nodes, expected):
    """After a loss a cluster client reconnects at once (to another node); one node: backoff."""
    assert failover_delay(attempt, nodes, cap=5.0) == pytest.approx(expected)


def test_the_bus_takes_every_form_of_the_setting():
    """RabbitMQBus.from_config accepts a list, and one string of several nodes."""
    conf = {**ms_settings.EVENT_BUS, "RABBITMQ_URL": [A, B]}
    assert RabbitMQBus.from_config(conf).urls == [A, B]
    conf["RABBITMQ_URL"] = f"{A},{B},{C}"
    assert RabbitMQBus.from_config(conf).urls == [A, B, C]


def events_settings(**event_bus: Any) -> Any:
    return override_settings(INTERLINK=_merge(ms_settings.data, {"EVENT_BUS": event_bus}))


@pytest.mark.parametrize("setting", [A, f"{A},{B},{C}", [A, B, C]])
def test_the_check_accepts_one_node_a_string_of_nodes_and_a_list(setting):
    """E041 is silent for each of the three forms."""
    with events_settings(BACKEND="rabbitmq", RABBITMQ_URL=setting):
        assert [m.id for m in check_event_bus()] == []


def test_the_check_names_the_bad_entry():
    """E041's message points at the entry to fix."""
    with events_settings(BACKEND="rabbitmq", RABBITMQ_URL=[A, "rabbit2:5672"]):
        (message,) = check_event_bus()
    assert message.id == "interlink.E041"
    assert "entry 2" in message.msg and "secret" not in message.msg


@pytest.mark.parametrize(
    ("nodes", "size", "expected"),
    [
        ([A, B, C], 3, []),
        ([A, B, C], None, []),
        ([A, B], 3, ["interlink.W052"]),
        (A, 3, ["interlink.W052"]),
        ([A, B, C], 0, ["interlink.E052"]),
        ([A, B, C], "3", ["interlink.E052"]),
    ],
)
def test_quorum_group_size_beyond_the_configured_nodes_is_a_warning(nodes, size, expected):
    """More replicas than RABBITMQ_URL names nodes: W052; a size that is not >= 1: E052."""
    with events_settings(
        BACKEND="rabbitmq", RABBITMQ_URL=nodes, RABBITMQ_QUORUM_INITIAL_GROUP_SIZE=size
    ):
        assert [m.id for m in check_event_bus()] == expected


def test_classic_queues_ignore_the_group_size():
    """The size only concerns quorum queues: no warning (and no argument) for classic ones."""
    with events_settings(
        BACKEND="rabbitmq",
        RABBITMQ_URL=A,
        RABBITMQ_QUEUE_TYPE="classic",
        RABBITMQ_QUORUM_INITIAL_GROUP_SIZE=3,
    ):
        assert [m.id for m in check_event_bus()] == []
    assert Topology("x", "classic", 3, 0.1, 3).queue_type_arguments() == {"x-queue-type": "classic"}


@pytest.mark.parametrize(("size", "extra"), [(None, {}), (3, {"x-quorum-initial-group-size": 3})])
def test_quorum_queues_are_declared_with_the_configured_group_size(size, extra):
    """x-quorum-initial-group-size is on every quorum queue's arguments only when it is set."""
    topology = Topology("x", "quorum", 3, 0.1, size)
    assert topology.queue_type_arguments() == {"x-queue-type": "quorum", **extra}


# --- the publisher's failover: only what was not confirmed is sent again ---------------------


class LosingPublisher:
    """A ConfirmingPublisher stand-in: its first publish is lost after confirming `confirmed`
    messages of the batch (and the broker returned `returned` of them); the next one succeeds.
    Records what each publish call was given."""

    def __init__(self, confirmed: int, returned: Sequence[int] = ()) -> None:
        self.confirmed = confirmed
        self.returned = set(returned)
        self.calls: list[list[str]] = []

    def publish(self, batch: Sequence[Outgoing]) -> list[str | None]:
        self.calls.append([m.routing_key for m in batch])
        if len(self.calls) == 1:
            raise PublisherLost("connection closed: 541 nodedown")
        return [None] * len(batch)

    def answered(self, batch: Sequence[Outgoing]) -> dict[int, str | None]:
        return {
            index: ("no queue" if index in self.returned else None)
            for index in range(self.confirmed)
        }

    def close(self) -> None:
        pass


def test_a_lost_publisher_sends_again_only_what_was_not_confirmed():
    """Lost after 3 of 5 confirms (one of them returned): the retry sends the last 2, and every
    message ends with the answer it got, the returned one refused."""
    conf = {**ms_settings.EVENT_BUS, "RABBITMQ_URL": [A, B, C], "PUBLISH_TIMEOUT": 5.0}
    bus = RabbitMQBus.from_config(conf)
    publisher = LosingPublisher(confirmed=3, returned=[1])
    bus._confirming = publisher  # type: ignore[assignment]
    batch = [Outgoing(f"e{i}", b"{}", pika.BasicProperties(message_id=f"m{i}")) for i in range(5)]
    outcomes = bus._send(batch)
    assert publisher.calls == [["e0", "e1", "e2", "e3", "e4"], ["e3", "e4"]]
    assert outcomes == [None, "no queue", None, None, None]


def test_answered_is_what_the_broker_confirmed_nacked_or_returned_before_the_loss():
    """The publisher's own bookkeeping: of 5 messages, 4 handed to the channel; tags 1-2 acked
    (multiple), 3 nacked, 4 unanswered when the connection went; the 5th never sent."""
    publisher = ConfirmingPublisher(pika.URLParameters(A), "x", timeout=1.0)
    batch = [Outgoing(f"e{i}", b"{}", pika.BasicProperties(message_id=f"m{i}")) for i in range(5)]
    publisher._unconfirmed = {1: 0, 2: 1, 3: 2, 4: 3}
    publisher._published = 4
    publisher._returned_ids.add("m1")
    publisher._on_confirm(pika.frame.Method(1, pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    publisher._on_confirm(pika.frame.Method(1, pika.spec.Basic.Nack(delivery_tag=3)))
    assert publisher.answered(batch) == {
        0: None,
        1: "e1: no queue is bound for this event type",
        2: "e2: the broker nacked the event",
    }
    # a nack is the broker declining for now, an unroutable event is a verdict (outbox.py)
    answered = publisher.answered(batch)
    assert (isinstance(answered[1], Declined), isinstance(answered[2], Declined)) == (False, True)
