"""PaymentServiceClient against the payments stub: capture, refunds, declines as typed errors."""

from __future__ import annotations

import uuid

import pytest

from django_interlink.exceptions import PaymentDeclined, ResourceNotFound, UnprocessableEntity

pytestmark = pytest.mark.usefixtures("reset_stubs")


def _pay(payments_client, amount=5000, card="tok_visa", **kwargs):
    return payments_client.process_payment(
        user_id=str(uuid.uuid4()), amount=amount, currency="EUR", card_token=card, **kwargs
    )


def test_process_payment_captures_the_amount(payments_client):
    """createPayment returns a captured payment with nothing refunded."""
    payment = _pay(payments_client, order_reference="order-7")
    assert (payment["status"], payment["amount"], payment["refunded_amount"]) == (
        "captured",
        5000,
        0,
    )
    assert payment["order_reference"] == "order-7"


def test_get_payment_reads_it_back(payments_client):
    """getPayment returns the captured payment."""
    payment = _pay(payments_client)
    assert payments_client.get_payment(payment_id=payment["id"]) == payment


def test_same_idempotency_key_charges_once(payments_client):
    """Re-running a payment with its key returns the same payment (no second charge)."""
    key = str(uuid.uuid4())
    user_id = str(uuid.uuid4())
    args = {"user_id": user_id, "amount": 700, "currency": "EUR", "card_token": "tok_visa"}
    first = payments_client.process_payment(**args, idempotency_key=key)
    again = payments_client.process_payment(**args, idempotency_key=key)
    assert again == first


@pytest.mark.parametrize("card", ["tok_declined", "tok_insufficient_funds"])
def test_declined_card_is_payment_declined_with_problem_detail(payments_client, card):
    """A declined card is a 402 PaymentDeclined carrying the problem (type card-declined)."""
    with pytest.raises(PaymentDeclined) as info:
        _pay(payments_client, card=card)
    assert info.value.status_code == 402
    assert info.value.problem["type"] == "https://errors.example.com/card-declined"
    assert info.value.problem["detail"]
    assert (info.value.service, info.value.operation) == ("payments", "createPayment")


def test_partial_then_full_refund(payments_client):
    """A partial refund leaves the rest; a refund without amount takes everything left."""
    payment = _pay(payments_client, amount=5000)
    partial = payments_client.refund_payment(payment_id=payment["id"], amount=1500)
    assert (partial["amount"], partial["currency"], partial["payment_id"]) == (
        1500,
        "EUR",
        payment["id"],
    )
    after_partial = payments_client.get_payment(payment_id=payment["id"])
    assert (after_partial["status"], after_partial["refunded_amount"]) == (
        "partially_refunded",
        1500,
    )
    rest = payments_client.refund_payment(payment_id=payment["id"])
    assert rest["amount"] == 3500
    assert payments_client.get_payment(payment_id=payment["id"])["status"] == "refunded"


def test_refund_above_the_remaining_amount_is_unprocessable(payments_client):
    """Refunding more than remains is a 422 UnprocessableEntity (refund-exceeds-remaining)."""
    payment = _pay(payments_client, amount=1000)
    with pytest.raises(UnprocessableEntity) as info:
        payments_client.refund_payment(payment_id=payment["id"], amount=1001)
    assert info.value.status_code == 422
    assert info.value.problem["type"] == "https://errors.example.com/refund-exceeds-remaining"
    assert payments_client.get_payment(payment_id=payment["id"])["refunded_amount"] == 0


def test_unknown_payment_is_not_found(payments_client):
    """Reading or refunding an unknown payment is a 404."""
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFound):
        payments_client.get_payment(payment_id=missing)
    with pytest.raises(ResourceNotFound):
        payments_client.refund_payment(payment_id=missing)
