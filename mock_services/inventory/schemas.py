"""Inventory service payloads (contracts/inventory.yaml)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mock_services.common.types import INTEGRAL, Currency, UuidStr

MAX_UNITS = 1_000_000
# contracts/inventory.yaml, UnitPrice: the shop's limits times this fit the largest payment.
MAX_UNIT_PRICE = 200_000
UnitPrice = Annotated[int, Field(strict=True, ge=1, le=MAX_UNIT_PRICE), INTEGRAL]
Sku = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$")]
ProductName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]
OrderReference = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: ProductName
    on_hand: Annotated[int, Field(strict=True, ge=0, le=MAX_UNITS), INTEGRAL]
    unit_price: UnitPrice | None = None
    currency: Currency = "USD"


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    sku: str
    name: str
    on_hand: int
    reserved: int
    available: int
    unit_price: int | None
    currency: str


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: UuidStr
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_UNITS), INTEGRAL]
    order_reference: OrderReference | None = None


class Reservation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    product_id: str
    quantity: int
    unit_price: int | None
    currency: str
    status: Literal["active", "released"]
    order_reference: str | None
    created_at: datetime
