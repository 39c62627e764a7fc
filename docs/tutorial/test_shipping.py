"""Tutorial, part 2: the order saga holds one courier slot per order and gives it back on undo."""

from __future__ import annotations

import pytest

from django_interlink.models import SagaStepLog
from shop.order_processing import process_order_request

from .support import two_items

pytestmark = pytest.mark.django_db

SHIPPING_SLOTS = "00000000-0000-4000-8000-000000000004"  # seeded in the inventory stub


def _slots_reserved(shop) -> int:
    return shop.inventory.get_stock(product_id=SHIPPING_SLOTS)["reserved"]


def _steps() -> list[tuple[str, str, str]]:
    rows = SagaStepLog.objects.order_by("id")
    return list(rows.values_list("step_name", "direction", "status"))


def test_a_placed_order_holds_one_courier_slot(shop):
    """The new step runs between the stock and the charge, and keeps its slot."""
    result = process_order_request(shop.user(), two_items(), "tok_visa")
    assert result.status == "completed"
    assert _slots_reserved(shop) == 1
    forward = [name for name, direction, _ in _steps() if direction == "action"]
    assert forward[1:3] == ["reserve_inventory", "reserve_shipping"]


def test_a_declined_card_gives_the_courier_slot_back(shop):
    """The undo runs in reverse: the charge, then the slot, then the stock."""
    result = process_order_request(shop.user(), two_items(), "tok_declined")
    assert result.status == "compensated"
    assert _slots_reserved(shop) == 0
    undone = [name for name, direction, _ in _steps() if direction == "compensation"]
    assert undone == ["process_payment", "reserve_shipping", "reserve_inventory"]
