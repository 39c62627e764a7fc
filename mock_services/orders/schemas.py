"""Orders service payloads (contracts/orders.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mock_services.common.types import INTEGRAL, Currency, UuidStr

OrderStatus = Literal["pending", "confirmed", "shipped", "delivered", "cancelled"]
MAX_QUANTITY = 1_000
MAX_UNIT_PRICE = 100_000_000
MAX_ITEMS = 50
MAX_RESERVATIONS = 50
Reason = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)]


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: UuidStr
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY), INTEGRAL]
    unit_price: Annotated[int, Field(strict=True, ge=0, le=MAX_UNIT_PRICE), INTEGRAL]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UuidStr
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=MAX_ITEMS)]
    currency: Currency
    payment_id: UuidStr | None = None
    reservation_ids: Annotated[list[UuidStr], Field(max_length=MAX_RESERVATIONS)] = []


class OrderStatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus


class OrderCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class OrderItemOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: str
    quantity: int
    unit_price: int


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    user_id: str
    items: list[OrderItemOut]
    currency: str
    total_amount: int
    status: OrderStatus
    payment_id: str | None
    reservation_ids: list[str]
    cancellation_reason: str | None
    created_at: datetime
    updated_at: datetime


class OrderList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Order]
    count: int
