"""The choreographed checkout on the real stack: PostgreSQL, RabbitMQ, the participants as
`manage.py consume_events` processes, the stubs in this test process (they outlive a child).

The payments participant is SIGKILLed after its charge and before its commit and ack
(EVENTS_CRASH_AT=checkout:payments:before_commit): RabbitMQ redelivers the event to the next
payments consumer, which replays the charge under the same Idempotency-Key: one charge.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import pytest
from django.test import override_settings
from tests.shop.support import Shop, two_items

from django_interlink.events.crash import CRASH_ENV
from django_interlink.events.outbox import outbox_relay
from django_interlink.models import InboxEvent
from integration_tests.event_helpers import configured_bus, stop_process, stop_process_when_dead
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from integration_tests.test_events_rabbitmq import SUBPROCESS_BUS
from mock_services.waiting import wait_until
from shop.choreography.participants import registry
from shop.choreography.services import checkout_start
from shop.models import Checkout

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.rabbitmq]

CHARGE = "checkout.stock_reserved"  # the payments participant's event
OTHERS = [t for t in registry.event_types if t != CHARGE]


@pytest.fixture
def shop(postgres, services_settings, reset_stubs):
    with override_settings(INTERLINK=services_settings):
        s = Shop(reset_stubs)
        yield s
        s.close()


def participant(
    stubs: dict[str, Any], token: str, rabbitmq_url: str, name: str, *types: str, **env: str
) -> subprocess.Popen[bytes]:
    """One consumer process of the participants for `types`, on this test's exchange and queues."""
    environment = django_subprocess_env(
        EVENT_BUS_BACKEND="rabbitmq",
        RABBITMQ_URL=rabbitmq_url,
        SERVICES_API_KEY=token,
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        **{f"{service.upper()}_SERVICE_URL": server.url for service, server in stubs.items()},
        **env,
    )
    argv = manage_py_argv(
        "consume_events",
        *types,
        "--bus",
        "rabbitmq",
        "--group",
        name,
        "--exchange",
        name,
        "--handler-module",
        "shop.choreography.participants",
    )
    return subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def relay_until(bus: Any, checkout: Checkout, status: str, timeout: float = 60) -> None:
    """Relay the outbox from this process until the checkout reaches `status`."""

    def reached() -> bool:
        outbox_relay(bus=bus)
        checkout.refresh_from_db()
        return checkout.status == status

    wait_until(reached, timeout=timeout, what=f"checkout {status}")


def payments_of(shop: Shop, checkout: Checkout) -> list[str]:
    _, payments, _ = shop.ledger().for_saga(str(checkout.checkout_id))
    return [p["status"] for p in payments]


def test_the_checkout_completes_through_rabbitmq_and_postgresql(
    shop, stubs, stub_token, rabbitmq, unique_name
):
    """Every participant in one consumer process: the five events go through the broker and
    the checkout row on PostgreSQL ends completed, with one charge."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(registry.event_types, group=unique_name)
        consumer = participant(stubs, stub_token, rabbitmq.url, unique_name)
        try:
            checkout = checkout_start(
                user_id=shop.user(), items=two_items(), payment_method="tok_visa"
            )
            relay_until(bus, checkout, "completed")
        finally:
            output = stop_process(consumer)
    assert payments_of(shop, checkout) == ["captured"], output[-3000:]
    assert InboxEvent.objects.filter(correlation_id=str(checkout.checkout_id)).count() == 5


def test_a_payments_participant_killed_before_its_commit_charges_once_after_redelivery(
    shop, stubs, stub_token, rabbitmq, unique_name
):
    """SIGKILLed after POST /payments and before the commit and ack: the checkout row, the
    inbox and the outbox keep nothing of it; RabbitMQ gives the event to the next payments
    consumer, whose replay under the same key is answered from the stub's idempotency store."""
    with configured_bus("rabbitmq", rabbitmq.url, unique_name, **SUBPROCESS_BUS) as bus:
        bus.declare(registry.event_types, group=unique_name)
        others = participant(stubs, stub_token, rabbitmq.url, unique_name, *OTHERS)
        doomed = participant(
            stubs,
            stub_token,
            rabbitmq.url,
            unique_name,
            CHARGE,
            **{CRASH_ENV: "checkout:payments:before_commit"},
        )
        try:
            checkout = checkout_start(
                user_id=shop.user(), items=two_items(), payment_method="tok_visa"
            )
            relay_until(bus, checkout, "stock_reserved")
            doomed_output = stop_process_when_dead(doomed)
            assert doomed.returncode == -signal.SIGKILL, doomed_output[-3000:]
            checkout.refresh_from_db()
            assert checkout.status == "stock_reserved"  # its transaction died with it
            assert payments_of(shop, checkout) == ["captured"]  # the call was made
            assert not InboxEvent.objects.filter(handler="checkout.payments.charge").exists()
            second = participant(stubs, stub_token, rabbitmq.url, unique_name, CHARGE)
            try:
                relay_until(bus, checkout, "completed")
            finally:
                output = stop_process(second)
        finally:
            output = stop_process(others) + output
    posts = stubs["payments"].requests(method="POST", path="/payments")
    assert len(posts) == 2, output[-3000:]
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert payments_of(shop, checkout) == ["captured"]
