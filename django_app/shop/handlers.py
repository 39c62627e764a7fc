"""The shop's event handlers, registered in `registry` (named in EVENT_BUS["HANDLER_MODULES"]).

Each runs inside the inbox transaction (inbox.py): its database writes and the inbox row commit
together, so a redelivered event changes nothing. Reads from other services go in a `prepare`
step, run before that transaction: no row lock is held during an HTTP call.
"""

from __future__ import annotations

import logging
import smtplib
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from django_interlink.clients.factory import client_for
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.exceptions import ResourceNotFound, RetryableHandlerError

from .clients.inventory import InventoryServiceClient
from .conf import shop_settings
from .models import OrderStatistics, UserProfile

logger = logging.getLogger("shop.handlers")

registry = HandlerRegistry()

WELCOME_SUBJECT = "Welcome aboard, {name}"
WELCOME_BODY = "Hello {name},\n\nyour account is ready. Thanks for joining us.\n"


@registry.handler("user.created", name="users.profile_and_welcome_email")
def on_user_created(envelope: Envelope) -> None:
    """Create the local profile and send the welcome email once."""
    data = envelope.data
    profile, _ = UserProfile.objects.select_for_update().get_or_create(
        user_id=data["user_id"], defaults={"email": data["email"], "name": data["name"]}
    )
    if profile.welcome_email_sent_at is not None:
        return
    try:
        # Sent inside the transaction, last: if the commit then fails the event is retried and
        # the email may go twice (at least once), never zero times.
        send_mail(
            WELCOME_SUBJECT.format(name=profile.name),
            WELCOME_BODY.format(name=profile.name),
            settings.DEFAULT_FROM_EMAIL,
            [profile.email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableHandlerError(f"welcome email not sent: {exc}") from exc
    profile.welcome_email_sent_at = timezone.now()
    profile.save(update_fields=["welcome_email_sent_at", "updated_at"])


def _low_stock_event_id(envelope: Envelope, product_id: str) -> uuid.UUID:
    # Stable per (order event, product): a retried handler writes the same event, not a new one.
    return uuid.uuid5(uuid.UUID(envelope.event_id), f"inventory.low:{product_id}")


def products_running_low(envelope: Envelope) -> list[dict[str, object]]:
    """order.created's reads: the inventory.low payloads of the order's products under the
    threshold (unknown products are logged and skipped)."""
    data = envelope.data
    threshold = int(shop_settings.INVENTORY_LOW_THRESHOLD)
    product_ids = list(dict.fromkeys(item["product_id"] for item in data["items"]))
    low: list[dict[str, object]] = []
    inventory = client_for(InventoryServiceClient)
    for product_id in product_ids:
        try:
            product = inventory.get_stock(product_id=product_id)
        except ResourceNotFound:
            logger.warning(
                "order %s names unknown product %s; stock not checked",
                data["order_id"],
                product_id,
                extra=envelope.log_context,
            )
            continue
        if product["available"] < threshold:
            low.append(
                {
                    "product_id": product_id,
                    "sku": product["sku"],
                    "available": product["available"],
                    "threshold": threshold,
                    "order_id": data["order_id"],
                }
            )
    return low


@registry.handler(
    "order.created", name="orders.statistics_and_stock_check", prepare=products_running_low
)
def on_order_created(envelope: Envelope, low: list[dict[str, object]]) -> None:
    """Count the order in the user's statistics; raise inventory.low for what `prepare` found."""
    data = envelope.data
    stats, _ = OrderStatistics.objects.get_or_create(
        user_id=data["user_id"], currency=data["currency"]
    )
    OrderStatistics.objects.filter(pk=stats.pk).update(
        order_count=F("order_count") + 1,
        total_amount=F("total_amount") + data["total_amount"],
        last_order_id=data["order_id"],
        last_order_at=timezone.now(),
    )
    for payload in low:
        outbox_enqueue(
            "inventory.low",
            payload,
            correlation_id=envelope.correlation_id,
            event_id=_low_stock_event_id(envelope, str(payload["product_id"])),
        )
