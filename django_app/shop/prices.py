"""The order's prices, from the saga's context: the catalogue's price recorded with each
reservation, checked against what the buyer sent, and the total charged.

The inventory service answers each reservation with the product's price at that moment and the
order-processing saga records it with the reservation (`reservations[i]`); everything after
(the check, the payment's amount, the order's items) reads that record, so a resumed or
replayed saga charges what was reserved, whatever the catalogue says since.
"""

from __future__ import annotations

from typing import Any

from django_interlink.exceptions import StepRejected

__all__ = ["check_price", "order_total", "unit_price"]

PRICE_CHANGED = "price changed"


def unit_price(data: dict[str, Any], index: int) -> int:
    """The price item `index` is sold at: the one recorded with its reservation.

    A reservation recorded without one was made by the release before prices came from the
    catalogue: that saga keeps the price its order was accepted with.
    """
    record = data["reservations"][str(index)]
    if "unit_price" in record:
        return int(record["unit_price"])
    return int(data["items"][index]["unit_price"])


def check_price(data: dict[str, Any], index: int) -> None:
    """StepRejected unless item `index`'s recorded price can be charged in the order's currency
    and equals the price the buyer sent, if they sent one."""
    record = data["reservations"][str(index)]
    if "unit_price" not in record:
        return  # reserved by the previous release, at the accepted price (see unit_price)
    product_id = data["items"][index]["product_id"]
    price, currency = record["unit_price"], record["currency"]
    sent = data["items"][index].get("unit_price")
    if price is None:
        raise StepRejected(f"product {product_id} has no price")
    if currency != data["currency"]:
        raise StepRejected(f"product {product_id} is priced in {currency}, not {data['currency']}")
    if sent is not None and sent != price:
        raise StepRejected(f"{PRICE_CHANGED} for product {product_id}: {sent} sent, now {price}")


def order_total(data: dict[str, Any]) -> int:
    """What the order costs in minor units: quantity times recorded price, summed."""
    return sum(int(item["quantity"]) * unit_price(data, i) for i, item in enumerate(data["items"]))
