"""The playground's switch to the choreographed checkout (docs/choreography.md): place the same
order with no orchestrator, and watch its row, its events and its calls. The participants run
in the launcher's consumer thread (they are in EVENT_BUS["HANDLER_MODULES"]), the faults are the
stubs' own, so both flows meet the same faults."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from shop.choreography.services import checkout_start
from shop.models import Checkout, Customer

from . import feeds, stubs
from .views import CARDS, _json_body, _problem, staff_json

MAX_QUANTITY = 100


def _items(raw: Any) -> list[dict[str, Any]] | str:
    """The items of the request, or what is wrong with them."""
    if not isinstance(raw, list) or not raw:
        return "items: a non-empty list of {product_id, quantity} is expected"
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("product_id"), str):
            return f"items[{index}].product_id: a string is expected"
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
            return f"items[{index}].quantity: an integer from 1 to {MAX_QUANTITY} is expected"
        items.append({"product_id": item["product_id"], "quantity": quantity})
    return items


@staff_json
@require_POST
def checkout_place(request: HttpRequest) -> HttpResponse:
    """POST {customer, items, card}: start a choreographed checkout for that customer."""
    body = _json_body(request)
    if body is None:
        return _problem(400, "a JSON object is expected")
    items = _items(body.get("items"))
    if isinstance(items, str):
        return _problem(400, "invalid order", errors=[items])
    card = body.get("card")
    if card not in CARDS:
        return _problem(400, "invalid order", errors=[f"card: one of {sorted(CARDS)}"])
    customer = Customer.objects.filter(account__username=str(body.get("customer"))).first()
    if customer is None:
        return _problem(404, f"no customer {body.get('customer')}")
    checkout = checkout_start(user_id=str(customer.user_id), items=items, payment_method=card)
    return JsonResponse({"checkout_id": str(checkout.checkout_id)}, status=202)


@staff_json
@require_GET
def checkout_feed(request: HttpRequest, checkout_id: str) -> HttpResponse:
    """The checkout's row, its events (outbox → bus → inbox) and the calls made for them."""
    try:
        checkout = Checkout.objects.filter(checkout_id=uuid.UUID(checkout_id)).first()
    except ValueError:
        return _problem(400, f"checkout id: a UUID is expected, not {checkout_id[:40]!r}")
    if checkout is None:
        return _problem(404, f"no checkout {checkout_id}")
    events = feeds.events_feed(str(checkout.checkout_id))
    try:
        calls = [
            call for event in events for call in stubs.saga_calls(f"checkout:{event['event_id']}")
        ]
    except requests.RequestException as exc:
        return _problem(502, f"a stub did not answer: {type(exc).__name__}")
    return JsonResponse(
        {
            "checkout_id": str(checkout.checkout_id),
            "status": checkout.status,
            "moved_by": checkout.moved_by,
            "error": checkout.error,
            "attempts": checkout.attempts,
            "events": events,
            "calls": sorted(calls, key=lambda call: float(call["received_at"])),
            "charges": stubs.saga_charges(str(checkout.checkout_id)),
        }
    )
