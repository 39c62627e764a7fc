"""consume_events and relay_outbox on the in-memory bus, and the EVENT_BUS system checks."""

from __future__ import annotations

import gc
import socket

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_interlink.conf import _merge, ms_settings
from django_interlink.events.checks import check_event_bus, check_redis_persistence
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.models import OutboxEvent, OutboxStatus
from shop.event_samples import sample_data
from shop.models import UserProfile

pytestmark = pytest.mark.django_db


def test_relay_then_consume_delivers_user_created_to_its_handler(memory_bus, capsys):
    """Outbox -> relay_outbox -> bus -> consume_events -> profile and welcome email."""
    memory_bus.declare(["user.created"])
    outbox_enqueue("user.created", sample_data("user.created"))
    call_command("relay_outbox", "--once", "--bus", "memory")
    assert OutboxEvent.objects.get().status == OutboxStatus.SENT
    call_command(
        "consume_events",
        "user.created",
        "--bus",
        "memory",
        "--max-messages",
        "1",
        "--idle-timeout",
        "5",
    )
    assert UserProfile.objects.count() == 1
    assert len(mail.outbox) == 1
    assert "settled 1" in capsys.readouterr().out


def test_consume_events_freezes_its_startup_heap_before_its_loop(memory_bus):
    """What exists before the loop is out of the collector's full passes (management/heap.py);
    the test process gets its heap back after."""
    gc.unfreeze()
    memory_bus.declare(["user.created"])
    outbox_enqueue("user.created", sample_data("user.created"))
    call_command("relay_outbox", "--once", "--bus", "memory")
    try:
        call_command("consume_events", "user.created", "--bus", "memory", "--max-messages", "1")
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_consume_events_refuses_types_without_a_handler(memory_bus):
    """Asking for a type no handler module handles is an error, not a silent idle consumer."""
    with pytest.raises(CommandError, match=r"inventory\.low"):
        call_command("consume_events", "inventory.low", "--bus", "memory", "--max-messages", "1")


def events_settings(**event_bus):
    return override_settings(INTERLINK=_merge(ms_settings.data, {"EVENT_BUS": event_bus}))


@pytest.mark.parametrize(
    ("event_bus", "check_id"),
    [
        ({"BACKEND": "kafka"}, "interlink.E040"),
        ({"BACKEND": "rabbitmq", "RABBITMQ_URL": ""}, "interlink.E041"),
        ({"BACKEND": "redis", "REDIS_URL": "http://redis"}, "interlink.E042"),
        ({"MAX_DELIVERIES": 0}, "interlink.E043"),
        ({"RABBITMQ_QUEUE_TYPE": "stream"}, "interlink.E044"),
        ({"HANDLER_MODULES": ["django_interlink.conf"]}, "interlink.E046"),
        ({"CONSUME_WINDOW": 0}, "interlink.E049"),
        ({"CONSUME_WINDOW": "50"}, "interlink.E049"),
        ({"CONSUME_WINDOW_WAIT": 0}, "interlink.E050"),
        ({"CONSUME_WINDOW_WAIT": 60}, "interlink.E050"),
        (
            {
                "BACKEND": "rabbitmq",
                "RABBITMQ_URL": "amqp://u:p@mq:5672/%2F",
                "RABBITMQ_PREFETCH": 10,
                "CONSUME_WINDOW": 11,
            },
            "interlink.E051",
        ),
        (
            {
                "BACKEND": "rabbitmq",
                "RABBITMQ_URL": "amqp://u:p@mq:5672/%2F",
                "RABBITMQ_PREFETCH": 30,
                "CONSUME_WINDOW": 20,
            },
            "interlink.W051",
        ),
    ],
)
def test_misconfigured_event_bus_is_reported_by_its_check(event_bus, check_id):
    """Each misconfiguration yields its own check id."""
    with events_settings(**event_bus):
        ids = {message.id for message in check_event_bus()}
    assert check_id in ids


@pytest.mark.parametrize(
    ("debug", "allowed", "expected"),
    [(False, False, [("interlink.E048", True)]), (False, True, []), (True, False, [])],
)
def test_memory_bus_with_debug_off_is_an_error_unless_explicitly_allowed(debug, allowed, expected):
    """In production the memory bus loses every event; ALLOW_MEMORY_BUS says it is meant."""
    with (
        override_settings(DEBUG=debug),
        events_settings(BACKEND="memory", ALLOW_MEMORY_BUS=allowed),
    ):
        found = [(message.id, message.is_serious()) for message in check_event_bus()]
    assert found == expected


@pytest.mark.parametrize("bus_option", [["--bus", "memory"], []])
def test_relay_outbox_refuses_the_memory_bus_unless_it_is_allowed(memory_bus, bus_option):
    """Without the opt-in the relay would mark rows sent that no other process ever receives."""
    outbox_enqueue("user.created", sample_data("user.created"))
    with (
        events_settings(ALLOW_MEMORY_BUS=False),
        pytest.raises(CommandError, match="ALLOW_MEMORY_BUS"),
    ):
        call_command("relay_outbox", "--once", *bus_option)
    assert OutboxEvent.objects.get().status == OutboxStatus.PENDING


def test_valid_rabbitmq_configuration_passes_the_checks():
    """A complete RabbitMQ configuration has no errors."""
    with events_settings(BACKEND="rabbitmq", RABBITMQ_URL="amqp://u:p@mq:5672/%2F"):
        assert [m.id for m in check_event_bus()] == []


def test_a_window_of_half_the_prefetch_passes_the_checks():
    """CONSUME_WINDOW up to half RABBITMQ_PREFETCH (the next window arrives while one commits),
    with a short wait, is a valid configuration."""
    with events_settings(
        BACKEND="rabbitmq",
        RABBITMQ_URL="amqp://u:p@mq:5672/%2F",
        RABBITMQ_PREFETCH=100,
        CONSUME_WINDOW=50,
        CONSUME_WINDOW_WAIT=0.05,
    ):
        assert [m.id for m in check_event_bus()] == []


def test_redis_persistence_check_is_silent_when_redis_cannot_be_asked():
    """No Redis on the port: no W041 (unreachable is the health endpoint's to report)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with events_settings(BACKEND="redis", REDIS_URL=f"redis://127.0.0.1:{port}/0"):
        assert check_redis_persistence() == []
