"""Inventory service routes."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request, Response

from mock_services.common.idempotency import IdempotencyKeyHeader, ReplayableRoute
from mock_services.common.types import id_path, problems
from mock_services.inventory.schemas import Product, ProductCreate, Reservation, ReservationCreate
from mock_services.inventory.store import InventoryStore

router = APIRouter(tags=["inventory"], route_class=ReplayableRoute)


def _store(request: Request) -> InventoryStore:
    return cast(InventoryStore, request.app.state.runtime.store)


StoreDep = Annotated[InventoryStore, Depends(_store)]
ProductId = Annotated[str, id_path("The product's id.")]
ReservationId = Annotated[str, id_path("The reservation's id.")]


@router.post(
    "/products",
    status_code=201,
    operation_id="createProduct",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 409, 422),
)
def create_product(body: ProductCreate, store: StoreDep, response: Response) -> Product:
    product = store.create_product(body)
    response.headers["Location"] = f"/products/{product.id}"
    return product


@router.get("/products/{product_id:id}", operation_id="getProduct", responses=problems(404, 422))
def get_product(product_id: ProductId, store: StoreDep) -> Product:
    return store.get_product(product_id)


@router.post(
    "/reservations",
    status_code=201,
    operation_id="createReservation",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 404, 409, 422),
)
def create_reservation(body: ReservationCreate, store: StoreDep, response: Response) -> Reservation:
    reservation = store.reserve(body)
    response.headers["Location"] = f"/reservations/{reservation.id}"
    return reservation


@router.get(
    "/reservations/{reservation_id:id}", operation_id="getReservation", responses=problems(404, 422)
)
def get_reservation(reservation_id: ReservationId, store: StoreDep) -> Reservation:
    return store.get_reservation(reservation_id)


@router.post(
    "/reservations/{reservation_id:id}/release",
    operation_id="releaseReservation",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(404, 409, 422),
)
def release_reservation(reservation_id: ReservationId, store: StoreDep) -> Reservation:
    return store.release(reservation_id)
