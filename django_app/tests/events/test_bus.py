"""EventBus.consume: one method for every backend, resolving what the backend's hook works with."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from django_interlink.events.bus import Consumption, EventBus
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from shop.event_samples import sample_envelope

ROOT = Path(__file__).resolve().parents[3]


class RecordingBus(EventBus):
    """A bus whose consume hook records what it was given and settles `settles` messages."""

    backend = "recording"

    def __init__(self, settles: int = 0) -> None:
        super().__init__()
        self.settles = settles
        self.runs: list[Consumption] = []

    def publish(self, envelope: Envelope) -> None:
        raise NotImplementedError

    def _consume(self, run: Consumption) -> None:
        self.runs.append(run)
        for _ in range(self.settles):
            run.budget.settled_one()


def test_consume_resolves_types_group_and_budget_and_returns_what_the_hook_settled():
    """Types sorted and each once, the configured group, a stop of its own, the budget given."""
    bus = RecordingBus(settles=2)
    settled = bus.consume(
        registry=HandlerRegistry(),
        event_types=["user.updated", "user.created", "user.updated"],
        max_messages=5,
        idle_timeout=1.5,
    )
    (run,) = bus.runs
    assert settled == 2
    assert (run.types, run.group) == (["user.created", "user.updated"], "django-orders")
    assert (run.budget.max_messages, run.budget.idle_timeout) == (5, 1.5)
    assert run.stop.is_set() is False
    assert run.running is True


def test_consume_defaults_to_the_registrys_types_and_refuses_nothing_to_consume():
    """Without event types, those the registry handles; with neither, a ValueError."""
    bus = RecordingBus()
    bus.subscribe("order.created", lambda envelope: None)
    bus.consume(group="billing")
    assert (bus.runs[0].types, bus.runs[0].group) == (["order.created"], "billing")
    with pytest.raises(ValueError, match="nothing to consume"):
        RecordingBus().consume()


@pytest.mark.django_db(transaction=True)
def test_the_memory_bus_sets_ready_once_it_receives(memory_bus):
    """`ready` is set once consuming has begun: what is published after it is handled."""
    received: list[Envelope] = []
    registry = HandlerRegistry()
    registry.add("user.created", received.append, name="test.ready", use_inbox=False)
    ready = threading.Event()
    consumer = threading.Thread(
        target=memory_bus.consume,
        kwargs={"registry": registry, "max_messages": 1, "idle_timeout": 5, "ready": ready},
    )
    consumer.start()
    assert ready.wait(5)
    sent = sample_envelope("user.created")
    memory_bus.publish(sent)
    consumer.join(10)
    assert received == [sent]


def test_a_broker_package_names_its_buses_without_loading_them_on_import():
    """Importing nodes.py or connection.py (checks, /health/ready/, the test servers) loads no
    bus, consumer or model, Django unconfigured; the package's bus names still resolve."""
    code = (
        "import sys\n"
        "import django_interlink.events.rabbitmq.nodes, django_interlink.events.redis.connection\n"
        "print(sorted(m for m in sys.modules if m.startswith('django_interlink.events.')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "django_app"), str(ROOT)])
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert ast.literal_eval(out) == [
        "django_interlink.events.infrastructure",
        "django_interlink.events.rabbitmq",
        "django_interlink.events.rabbitmq.nodes",
        "django_interlink.events.redis",
        "django_interlink.events.redis.connection",
    ]
    from django_interlink.events import rabbitmq, redis
    from django_interlink.events.rabbitmq.bus import RabbitMQBus
    from django_interlink.events.redis.pubsub import RedisPubSubBus
    from django_interlink.events.redis.streams import RedisStreamsBus

    assert (rabbitmq.RabbitMQBus, redis.RedisStreamsBus, redis.RedisPubSubBus) == (
        RabbitMQBus,
        RedisStreamsBus,
        RedisPubSubBus,
    )
