"""The app's handlers: user.created builds a profile and emails once; order.created counts and
checks stock against the inventory stub, raising inventory.low through the outbox."""

from __future__ import annotations

import pytest
from django.core import mail

from django_interlink.events.consumer import Dispatcher
from django_interlink.models import OutboxEvent
from shop.event_samples import sample_envelope
from shop.handlers import registry
from shop.models import OrderStatistics, UserProfile

pytestmark = pytest.mark.django_db

WIDGET = "00000000-0000-4000-8000-000000000001"  # 100 in stock
GADGET = "00000000-0000-4000-8000-000000000002"  # 10
GIZMO = "00000000-0000-4000-8000-000000000003"  # 0
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"


def test_user_created_makes_a_profile_and_sends_one_welcome_email(memory_bus):
    """One profile, one email, however many times the event is delivered."""
    envelope = sample_envelope("user.created")
    dispatcher = Dispatcher(registry)
    for delivery in (1, 2):
        dispatcher.dispatch(envelope.to_bytes(), delivery_count=delivery)
    profile = UserProfile.objects.get()
    assert (str(profile.user_id), profile.email) == (envelope.data["user_id"], "ada@example.com")
    assert profile.welcome_email_sent_at is not None
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "Ada" in mail.outbox[0].subject


def order(items, **overrides):
    lines = [{"product_id": p, "quantity": q, "unit_price": 100} for p, q in items]
    return sample_envelope(
        "order.created", items=lines, total_amount=sum(q * 100 for _, q in items), **overrides
    )


def test_order_created_updates_statistics_once_per_event(
    services_settings, reset_stubs, memory_bus
):
    """Two orders count twice, a redelivered one does not count again."""
    first, second = order([(WIDGET, 1)]), order([(WIDGET, 2)])
    dispatcher = Dispatcher(registry)
    for envelope in (first, second, first):
        dispatcher.dispatch(envelope.to_bytes())
    stats = OrderStatistics.objects.get()
    assert (stats.order_count, stats.total_amount, stats.currency) == (2, 300, "EUR")


def test_order_created_raises_inventory_low_for_products_under_the_threshold(
    services_settings, reset_stubs, memory_bus
):
    """Gizmo (0 left) is low; Widget (100) and Gadget (10, threshold 5) are not; unknown skipped."""
    envelope = order([(WIDGET, 1), (GADGET, 1), (GIZMO, 1), (UNKNOWN, 1)])
    result = Dispatcher(registry).dispatch(envelope.to_bytes())
    assert result.outcome.value == "ack"
    low = OutboxEvent.objects.get(event_type="inventory.low")
    assert low.payload["data"] == {
        "product_id": GIZMO,
        "sku": "GIZMO-003",
        "available": 0,
        "threshold": 5,
        "order_id": envelope.data["order_id"],
    }
    assert low.correlation_id == envelope.correlation_id


def test_inventory_outage_retries_the_order_event_without_counting_it(
    services_settings, reset_stubs, stubs, memory_bus
):
    """With the inventory service down, the event is deferred (no delivery used up) and the
    statistics untouched."""
    stubs["inventory"].faults.add(
        method="GET", path="/products/{product_id}", kind="error", status=503, times=0
    )
    result = Dispatcher(registry).dispatch(order([(WIDGET, 1)]).to_bytes())
    assert result.outcome.value == "defer"
    assert OrderStatistics.objects.count() == 0
