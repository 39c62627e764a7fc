"""Payments service payloads (contracts/payments.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mock_services.common.types import INTEGRAL, Currency, UuidStr

MAX_AMOUNT = 10_000_000_000
PaymentStatus = Literal["captured", "partially_refunded", "refunded"]
CardToken = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]
OrderReference = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]
Amount = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT), INTEGRAL]


class PaymentMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["card"]
    token: CardToken


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UuidStr
    amount: Amount
    currency: Currency
    payment_method: PaymentMethod
    order_reference: OrderReference | None = None


class RefundCreate(BaseModel):
    """`amount` absent or null = everything not yet refunded."""

    model_config = ConfigDict(extra="forbid")

    amount: Amount | None = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    user_id: str
    order_reference: str | None
    amount: int
    currency: str
    status: PaymentStatus
    refunded_amount: int
    created_at: datetime


class Refund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    payment_id: str
    amount: int
    currency: str
    created_at: datetime
