"""Dead letters of the memory bus: the box, the command and the admin page (staff only)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from django_interlink.events.dead_letter_service import parse_duration
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.exceptions import PermanentHandlerError
from shop.event_samples import sample_envelope

pytestmark = pytest.mark.django_db

URL = "admin:interlink_dead_letters"


@pytest.fixture
def dead(memory_bus):
    """Two user.created events refused by their handler: dead letters of the default group."""
    registry = HandlerRegistry()

    def refuse(envelope):
        raise PermanentHandlerError("refused for the test")

    registry.add("user.created", refuse, name="test.refuse")
    memory_bus.declare(["user.created"])
    events = [sample_envelope("user.created") for _ in range(2)]
    for envelope in events:
        memory_bus.publish(envelope)
    assert memory_bus.consume(registry=registry, max_messages=2, idle_timeout=2) == 2
    return events


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("dead_letters", *args, stdout=out)
    return out.getvalue()


def test_the_memory_box_lists_replays_and_discards(memory_bus, dead):
    """Reading keeps them; a replay is back in the queue with its replay count; discard drops."""
    box = memory_bus.dead_letter_box()
    first, second = box.read()
    assert [first.event_id, second.event_id] == [e.event_id for e in dead]
    assert (first.attempts, first.replays, first.history[0]["reason"]) == (
        1,
        0,
        "test.refuse: refused for the test",
    )
    assert len(box.read()) == 2
    assert box.replay([first.id]) == [first.id]
    assert (memory_bus.pending(), [d.id for d in box.read()]) == (1, [second.id])
    assert box.discard([second.id, "no-such-id"]) == [second.id]
    assert box.read() == []


def test_the_command_lists_as_json_and_as_a_table(dead):
    listed = json.loads(run("list", "--json"))
    assert [x["event_id"] for x in listed] == [e.event_id for e in dead]
    assert set(listed[0]) == {
        "id",
        "event_id",
        "event_type",
        "group",
        "reason",
        "attempts",
        "replays",
        "first_failure",
        "last_failure",
    }
    table = run("list").splitlines()
    assert table[0].split("\t")[:4] == ["id", "event_id", "event_type", "group"]
    assert len(table) == 3


@pytest.mark.parametrize(
    "args",
    [
        ("replay",),
        ("discard", "--all"),  # without --yes
        ("show", "nope"),
        ("list", "--since", "soon"),
        ("replay", "nope"),
        ("list", "--bus", "kafka"),
    ],
    ids=["replay-nothing", "discard-no-yes", "show-unknown", "since", "unknown-id", "bus"],
)
def test_bad_arguments_are_a_command_error(dead, args):
    with pytest.raises(CommandError):
        run(*args)


def test_durations_read_as_an_operator_writes_them():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("2 hours")


def staff_client(*, staff: bool) -> Client:
    name = "ops" if staff else "viewer"
    user = get_user_model().objects.create_user(name, password="x", is_staff=staff)
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_page_lists_them_for_staff_only(dead):
    """A non-staff user is sent to the admin login; staff see every dead letter."""
    refused = staff_client(staff=False).get(reverse(URL))
    assert refused.status_code == 302 and "/login/" in refused["Location"]
    page = staff_client(staff=True).get(reverse(URL))
    body = page.content.decode()
    assert page.status_code == 200
    assert [e.event_id in body for e in dead] == [True, True]


def test_the_admin_replays_and_discards_only_when_confirmed(memory_bus, dead):
    client = staff_client(staff=True)
    first, second = memory_bus.dead_letter_box().read()
    client.post(reverse(URL), {"action": "replay", "ids": [first.id]})
    assert (memory_bus.pending(), len(memory_bus.dead_letter_box().read())) == (1, 1)
    client.post(reverse(URL), {"action": "discard", "ids": [second.id]})
    assert [d.id for d in memory_bus.dead_letter_box().read()] == [second.id]
    client.post(reverse(URL), {"action": "discard", "ids": [second.id], "confirm": "yes"})
    assert memory_bus.dead_letter_box().read() == []
