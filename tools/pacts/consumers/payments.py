"""What `shop.clients.payments.PaymentServiceClient` sends to the payments service and reads."""

from __future__ import annotations

from django_interlink.exceptions import PaymentDeclined, ResourceNotFound, UnprocessableEntity
from shop.clients.payments import Payment, PaymentServiceClient, Refund
from tools.pacts.http import Case, problem, reads, uuid

USER = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"
PAYMENT = "9d7a0c61-3f1b-4b8e-9a2c-5e6f7a8b9c0d"
MISSING = "9d7a0c61-3f1b-4b8e-9a2c-00000000dead"
STATE = {"id": PAYMENT, "user_id": USER, "amount": 2500, "currency": "USD"}
STAMP = "2026-11-25T08:00:00Z"
CARD = {"type": "card", "token": "tok_visa"}


def payment(**fields: object) -> dict[str, object]:
    example = {
        **STATE,
        "order_reference": None,
        "status": "captured",
        "refunded_amount": 0,
        "created_at": STAMP,
        **fields,
    }
    return reads(Payment, example, id=uuid(str(example["id"])))


CLIENT = PaymentServiceClient
CASES = [
    Case(
        "a request to charge a card",
        "POST",
        "/payments",
        201,
        lambda c: c.process_payment(
            user_id=USER,
            amount=2500,
            currency="USD",
            card_token="tok_visa",  # noqa: S106  (the stub's test card)
        ),
        body={"user_id": USER, "amount": 2500, "currency": "USD", "payment_method": CARD},
        idempotent=True,
        created=True,
        response=payment(),
    ),
    Case(
        "a request to charge a card that is declined",
        "POST",
        "/payments",
        402,
        lambda c: c.process_payment(
            user_id=USER,
            amount=2500,
            currency="USD",
            card_token="tok_declined",  # noqa: S106
        ),
        body={
            "user_id": USER,
            "amount": 2500,
            "currency": "USD",
            "payment_method": {"type": "card", "token": "tok_declined"},
        },
        idempotent=True,
        response=problem(402, "card-declined"),
        raises=PaymentDeclined,
    ),
    Case(
        "a request for a payment",
        "GET",
        f"/payments/{PAYMENT}",
        200,
        lambda c: c.get_payment(payment_id=PAYMENT),
        state="a captured payment exists",
        params=STATE,
        response=payment(),
    ),
    Case(
        "a request for a payment that does not exist",
        "GET",
        f"/payments/{MISSING}",
        404,
        lambda c: c.get_payment(payment_id=MISSING),
        response=problem(404, "not-found"),
        raises=ResourceNotFound,
    ),
    Case(
        "a request to refund a payment in full",
        "POST",
        f"/payments/{PAYMENT}/refund",
        201,
        lambda c: c.refund_payment(payment_id=PAYMENT),
        state="a captured payment exists",
        params=STATE,
        body={},
        idempotent=True,
        response=reads(
            Refund,
            {
                "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                "payment_id": PAYMENT,
                "amount": 2500,
                "currency": "USD",
                "created_at": STAMP,
            },
        ),
    ),
    Case(
        "a request to refund more than was paid",
        "POST",
        f"/payments/{PAYMENT}/refund",
        422,
        lambda c: c.refund_payment(payment_id=PAYMENT, amount=99999),
        state="a captured payment exists",
        params=STATE,
        body={"amount": 99999},
        idempotent=True,
        response=problem(422, "refund-exceeds-remaining"),
        raises=UnprocessableEntity,
    ),
]
