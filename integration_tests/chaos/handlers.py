"""Handlers of the cluster chaos run's consumer processes (`consume_events --handler-module
integration_tests.chaos.handlers`, beside `shop.handlers`): one per event type the order saga
publishes, each counting its event as an effect of its own, so a double application shows.

The count is an OrderStatistics row keyed by the event's id, in a currency no order uses: it
commits with the inbox row (inbox.py), as any handler's effect does.
"""

from __future__ import annotations

from django.db.models import F

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from shop.models import OrderStatistics

#: what the order saga (and the shop's order.created handler) put in the outbox
EVENT_TYPES = (
    "payment.processed",
    "order.created",
    "payment.refunded",
    "order.cancelled",
    "inventory.low",
)
EFFECT_CURRENCY = "EVT"  # no order is in it: these rows are the chaos handlers' alone

registry = HandlerRegistry()


def count_event(envelope: Envelope) -> None:
    """One more application of this event: a count above 1 means it was applied twice."""
    row, _ = OrderStatistics.objects.get_or_create(
        user_id=envelope.event_id, currency=EFFECT_CURRENCY
    )
    OrderStatistics.objects.filter(pk=row.pk).update(order_count=F("order_count") + 1)


def handler_name(event_type: str) -> str:
    return f"chaos.count.{event_type}"


for _event_type in EVENT_TYPES:
    registry.add(_event_type, count_event, name=handler_name(_event_type))


def applications() -> dict[str, int]:
    """event_id -> how many times the chaos handlers applied it."""
    rows = OrderStatistics.objects.filter(currency=EFFECT_CURRENCY)
    return {str(user_id): count for user_id, count in rows.values_list("user_id", "order_count")}
