"""Client of the payments service (contracts/payments.yaml)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from django_interlink.clients.base import ServiceClient, quote

PaymentStatus = Literal["captured", "partially_refunded", "refunded"]


class Payment(TypedDict):
    id: str
    user_id: str
    order_reference: str | None
    amount: int  # minor units
    currency: str
    status: PaymentStatus
    refunded_amount: int
    created_at: str


class Refund(TypedDict):
    id: str
    payment_id: str
    amount: int
    currency: str
    created_at: str


class PaymentServiceClient(ServiceClient):
    """createPayment, getPayment, refundPayment."""

    service_name = "payments"

    def process_payment(
        self,
        *,
        user_id: str,
        amount: int,
        currency: str,
        card_token: str,
        order_reference: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Capture `amount` (minor units) on a card; 402 (PaymentDeclined) if declined.

        Pass a stable `idempotency_key` (e.g. derived from the order) so that a retry after a
        lost response, or a re-run of the whole step, never charges twice.
        """
        body: dict[str, Any] = {
            "user_id": user_id,
            "amount": amount,
            "currency": currency,
            "payment_method": {"type": "card", "token": card_token},
        }
        if order_reference is not None:
            body["order_reference"] = order_reference
        response = self.post(
            "/payments",
            operation="createPayment",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Payment, response.data)

    def get_payment(self, *, payment_id: str) -> Payment:
        """The payment; 404 (ResourceNotFound) if unknown."""
        response = self.get(f"/payments/{quote(payment_id)}", operation="getPayment")
        return cast(Payment, response.data)

    def refund_payment(
        self, *, payment_id: str, amount: int | None = None, idempotency_key: str | None = None
    ) -> Refund:
        """Refund `amount`, or everything not yet refunded when None.

        422 (UnprocessableEntity) if `amount` exceeds what remains refundable.
        """
        body: dict[str, Any] = {} if amount is None else {"amount": amount}
        response = self.post(
            f"/payments/{quote(payment_id)}/refund",
            operation="refundPayment",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(Refund, response.data)
