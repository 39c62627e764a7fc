"""In-memory payments: captured at once unless the card token is a declining one."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel

from mock_services.common.errors import ProblemError
from mock_services.common.store import LockedStore, utcnow
from mock_services.payments.schemas import Payment, PaymentCreate, Refund

# Card tokens the stub declines with 402, and the reason it gives.
DECLINED_TOKENS: dict[str, str] = {
    "tok_declined": "The card was declined.",
    "tok_insufficient_funds": "The card has insufficient funds.",
}


class PaymentsStore(LockedStore):
    def _initial_state(self) -> None:
        self._payments: dict[str, Payment] = {}
        self._refunds: dict[str, Refund] = {}

    def _tables(self) -> Mapping[str, Mapping[str, BaseModel]]:
        return {"payments": self._payments, "refunds": self._refunds}

    def seed(self, payment: Payment) -> None:
        """Put `payment` in under its own id (provider states: a record the pact names)."""
        with self._lock:
            self._payments[payment.id] = payment

    def create(self, data: PaymentCreate) -> Payment:
        reason = DECLINED_TOKENS.get(data.payment_method.token)
        if reason is not None:
            raise ProblemError(402, "card-declined", reason)
        payment = Payment(
            id=str(uuid.uuid4()),
            user_id=data.user_id.lower(),
            order_reference=data.order_reference,
            amount=data.amount,
            currency=data.currency,
            status="captured",
            refunded_amount=0,
            created_at=utcnow(),
        )
        with self._lock:
            self._payments[payment.id] = payment
        return payment

    def get(self, payment_id: str) -> Payment:
        with self._lock:
            payment = self._payments.get(payment_id.lower())
            if payment is None:
                raise ProblemError(404, "not-found", f"Payment {payment_id} does not exist.")
            return payment

    def refund(self, payment_id: str, amount: int | None) -> Refund:
        with self._lock:
            payment = self.get(payment_id)
            remaining = payment.amount - payment.refunded_amount
            wanted = remaining if amount is None else amount
            if wanted > remaining or wanted == 0:
                raise ProblemError(
                    422,
                    "refund-exceeds-remaining",
                    f"Cannot refund {wanted}: {remaining} {payment.currency} remain refundable.",
                )
            refunded = payment.refunded_amount + wanted
            status = "refunded" if refunded == payment.amount else "partially_refunded"
            self._payments[payment.id] = payment.model_copy(
                update={"refunded_amount": refunded, "status": status}
            )
            refund = Refund(
                id=str(uuid.uuid4()),
                payment_id=payment.id,
                amount=wanted,
                currency=payment.currency,
                created_at=utcnow(),
            )
            self._refunds[refund.id] = refund
            return refund
