"""Payments service routes."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response

from mock_services.common.idempotency import IdempotencyKeyHeader, ReplayableRoute
from mock_services.common.types import id_path, problems
from mock_services.payments.schemas import Payment, PaymentCreate, Refund, RefundCreate
from mock_services.payments.store import PaymentsStore

router = APIRouter(tags=["payments"], route_class=ReplayableRoute)


def _store(request: Request) -> PaymentsStore:
    return cast(PaymentsStore, request.app.state.runtime.store)


StoreDep = Annotated[PaymentsStore, Depends(_store)]
PaymentId = Annotated[str, id_path("The payment's id.")]


@router.post(
    "/payments",
    status_code=201,
    operation_id="createPayment",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 402, 409, 422),
)
def create_payment(body: PaymentCreate, store: StoreDep, response: Response) -> Payment:
    payment = store.create(body)
    response.headers["Location"] = f"/payments/{payment.id}"
    return payment


@router.get("/payments/{payment_id:id}", operation_id="getPayment", responses=problems(404, 422))
def get_payment(payment_id: PaymentId, store: StoreDep) -> Payment:
    return store.get(payment_id)


@router.post(
    "/payments/{payment_id:id}/refund",
    status_code=201,
    operation_id="refundPayment",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 404, 409, 422),
)
def refund_payment(payment_id: PaymentId, body: RefundCreate, store: StoreDep) -> Refund:
    return store.refund(payment_id, body.amount)
