"""The other services' consumer in the soak: every event type the shop does not handle, taken
through the inbox and acknowledged, so no queue or stream fills up only because nobody reads it
(RabbitMQ would return an event no queue is bound for, and the relay would keep it pending)."""

from __future__ import annotations

from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry

OTHER_SERVICES_TYPES = (
    "inventory.low",
    "inventory.released",
    "inventory.reserved",
    "order.cancelled",
    "payment.processed",
    "payment.refunded",
    "user.updated",
)

registry = HandlerRegistry()


def received(envelope: Envelope) -> None:
    """Nothing to do: the inbox row this handler leaves is the work a real consumer does."""


for _event_type in OTHER_SERVICES_TYPES:
    registry.add(_event_type, received, name=f"soak.other_services.{_event_type}")
