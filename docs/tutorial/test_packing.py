"""Tutorial, part 2: the packing slip goes once per order, however often order.created comes."""

from __future__ import annotations

import pytest
from django.core import mail

from django_interlink.events.consumer import Dispatcher
from django_interlink.events.handlers import load_registry
from shop.clients.users import UserServiceClient
from shop.event_samples import sample_envelope

pytestmark = pytest.mark.django_db


def test_order_created_sends_one_packing_slip_to_the_warehouse(
    services_settings, reset_stubs, memory_bus
):
    """The slip names the customer that `prepare` read; a redelivery is skipped by the inbox."""
    user = UserServiceClient().create_user(email="bo@example.com", name="Bo", is_active=True)
    envelope = sample_envelope("order.created", user_id=user["id"])
    dispatcher = Dispatcher(load_registry())
    for delivery in (1, 2):
        dispatcher.dispatch(envelope.to_bytes(), delivery_count=delivery)
    slips = [m for m in mail.outbox if m.to == ["warehouse@example.com"]]
    assert [m.subject for m in slips] == [f"Pack order {envelope.data['order_id']}"]
    assert "Ship to Bo <bo@example.com>" in slips[0].body
