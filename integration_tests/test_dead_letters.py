"""`manage.py dead_letters` on a real RabbitMQ and a real Redis: list, show, replay, discard.

Five events are dead-lettered by a handler that refuses them (PermanentHandlerError): one
order.created twice (a duplicate, as at-least-once delivery makes), two other order.created and
one order.cancelled. Then, as an operator would: list (twice: reading removes nothing), show,
fix the handler, replay one (applied once) and its duplicate (the inbox skips it), discard one
(only with --yes), discard every order.cancelled, and replay one into a still-broken handler
(dead again, with its replay count).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError
from django_interlink.models import InboxEvent
from integration_tests.event_helpers import configured_bus, order_event
from shop.event_samples import sample_envelope
from shop.models import OrderStatistics


def dead_letters(*args: str) -> str:
    out = io.StringIO()
    call_command("dead_letters", *args, stdout=out)
    return out.getvalue()


def listed(*args: str) -> list[dict[str, Any]]:
    return list(json.loads(dead_letters("list", "--json", *args)))


def fixable_registry() -> tuple[HandlerRegistry, dict[str, bool]]:
    """order.created counts the order on its user (once per event, the inbox says); both types
    are refused while `state["broken"]`."""
    state = {"broken": True}
    registry = HandlerRegistry()

    def count(envelope):
        if state["broken"]:
            raise PermanentHandlerError("the handler is broken")
        stats, _ = OrderStatistics.objects.get_or_create(
            user_id=envelope.data["user_id"], currency="EUR"
        )
        OrderStatistics.objects.filter(pk=stats.pk).update(order_count=F("order_count") + 1)

    def cancelled(envelope):
        if state["broken"]:
            raise PermanentHandlerError("the handler is broken")

    registry.add("order.created", count, name="it.dead.count")
    registry.add("order.cancelled", cancelled, name="it.dead.cancelled")
    return registry, state


def dead_letters_operated(bus, group: str) -> None:
    registry, state = fixable_registry()
    bus.declare(["order.created", "order.cancelled"])
    twice, other, last = order_event(1), order_event(2), order_event(3)
    gone = sample_envelope("order.cancelled")
    bus.publish_many([twice, twice, other, gone, last])
    assert bus.consume(registry=registry, max_messages=5, idle_timeout=10) == 5

    letters = listed()
    assert sorted(letter["event_id"] for letter in letters) == sorted(
        e.event_id for e in (twice, twice, other, gone, last)
    )
    assert {
        (x["group"], x["attempts"], x["replays"], x["reason"].split(": ", 1)[1]) for x in letters
    } == {(group, 1, 0, "the handler is broken")}
    assert all(x["first_failure"] and x["last_failure"] for x in letters)
    assert listed() == letters  # reading removed nothing
    assert [x["event_id"] for x in listed("--type", "order.cancelled")] == [gone.event_id]
    assert listed("--since", "1h") == letters
    ids = {
        e.event_id: [x["id"] for x in letters if x["event_id"] == e.event_id]
        for e in (twice, other, gone, last)
    }
    (first, duplicate), [other_id], [gone_id], [last_id] = ids.values()

    shown = json.loads(dead_letters("show", first))
    assert json.loads(shown["body"])["event_id"] == twice.event_id
    assert [h["reason"] for h in shown["history"]] == ["it.dead.count: the handler is broken"]
    assert shown["headers"]

    state["broken"] = False  # the handler is fixed
    assert dead_letters("replay", first).split() == ["replayed", "1:", first]
    assert sorted(x["id"] for x in listed()) == sorted([duplicate, other_id, gone_id, last_id])
    assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
    assert dead_letters("replay", duplicate).startswith("replayed 1")
    assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
    applied = OrderStatistics.objects.get(user_id=twice.data["user_id"]).order_count
    assert (applied, InboxEvent.objects.filter(event_id=twice.event_id).count()) == (1, 1)

    with pytest.raises(CommandError, match="--yes"):
        dead_letters("discard", other_id)
    assert sorted(x["id"] for x in listed()) == sorted([other_id, gone_id, last_id])
    assert dead_letters("discard", other_id, "--yes").startswith("discarded 1")
    assert dead_letters("discard", "--all", "--type", "order.cancelled", "--yes").startswith(
        "discarded 1"
    )
    assert [x["id"] for x in listed()] == [last_id]

    state["broken"] = True  # replayed into a handler still refusing it: dead again
    dead_letters("replay", "--all", "--type", "order.created")
    assert bus.consume(registry=registry, max_messages=1, idle_timeout=10) == 1
    (again,) = listed()
    assert (again["event_id"], again["replays"], again["attempts"]) == (last.event_id, 1, 1)
    assert not OrderStatistics.objects.filter(user_id__in=[other.data["user_id"]]).exists()


BAD_ARGUMENTS = [
    ("replay",),  # neither ids nor --all
    ("replay", "0-1", "--all"),  # both
    ("replay", "0-1"),  # no such dead letter
    ("discard", "0-1", "--yes"),
    ("show", "0-1"),
    ("list", "--since", "yesterday"),
    ("frobnicate",),
]


@pytest.mark.django_db(transaction=True)
def test_dead_letters_are_listed_shown_replayed_and_discarded_on_rabbitmq(rabbitmq, unique_name):
    """list leaves them in the queue, show has the body, a replay is applied once (its
    duplicate skipped by the inbox), discard needs --yes, --all takes only the type given."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name) as bus:
        dead_letters_operated(bus, unique_name)


@pytest.mark.django_db(transaction=True)
def test_dead_letters_are_listed_shown_replayed_and_discarded_on_redis(redis_server, unique_name):
    """The same on Redis Streams: XRANGE reads, a replay is XADD and XDEL in one MULTI."""
    with configured_bus("redis", redis_server.url, unique_name) as bus:
        dead_letters_operated(bus, unique_name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["rabbitmq", "redis"])
@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=lambda args: "-".join(args))
def test_bad_arguments_are_a_command_error(rabbitmq, redis_server, unique_name, backend, args):
    """Never a traceback: neither ids nor --all, both, an unknown id, a bad duration."""
    url = rabbitmq.url if backend == "rabbitmq" else redis_server.url
    with configured_bus(backend, url, unique_name) as bus:
        bus.declare(["order.created"])
        with pytest.raises(CommandError):
            dead_letters(*args)
