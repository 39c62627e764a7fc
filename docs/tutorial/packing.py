"""The warehouse's packing slip: an inbox handler for order.created, with a prepare step.

`prepare` reads the customer from the users service before the inbox transaction opens, so no
database lock is held during the HTTP call. The handler then runs inside that transaction: the
inbox row and the e-mail's record commit together, so a redelivered event sends no second slip.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from django_interlink.clients.factory import client_for
from django_interlink.events.envelope import Envelope
from django_interlink.events.handlers import HandlerRegistry

from .clients.users import User, UserServiceClient

registry = HandlerRegistry()

WAREHOUSE = "warehouse@example.com"


def customer(envelope: Envelope) -> User:
    """The reads, outside the transaction. A failure here (the users service down) is retried
    like a failing handler, and nothing has been written yet."""
    return client_for(UserServiceClient).get_user(user_id=envelope.data["user_id"])


@registry.handler("order.created", name="shipping.packing_slip", prepare=customer)
def on_order_created(envelope: Envelope, user: User) -> None:
    """E-mail the warehouse what to pack and whom to ship it to."""
    data = envelope.data
    lines = [f"{item['quantity']} x {item['product_id']}" for item in data["items"]]
    send_mail(
        subject=f"Pack order {data['order_id']}",
        message="\n".join([f"Ship to {user['name']} <{user['email']}>", "", *lines]),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[WAREHOUSE],
    )
