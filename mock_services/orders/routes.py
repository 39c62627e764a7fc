"""Orders service routes."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response

from mock_services.common.idempotency import IdempotencyKeyHeader, ReplayableRoute
from mock_services.common.types import id_path, problems
from mock_services.orders.schemas import (
    Order,
    OrderCancel,
    OrderCreate,
    OrderList,
    OrderStatusUpdate,
)
from mock_services.orders.store import OrdersStore

router = APIRouter(tags=["orders"], route_class=ReplayableRoute)


def _store(request: Request) -> OrdersStore:
    return cast(OrdersStore, request.app.state.runtime.store)


StoreDep = Annotated[OrdersStore, Depends(_store)]
OrderId = Annotated[str, id_path("The order's id.")]
UserId = Annotated[str, id_path("The user's id.")]


@router.post(
    "/orders",
    status_code=201,
    operation_id="createOrder",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 409, 422),
)
def create_order(body: OrderCreate, store: StoreDep, response: Response) -> Order:
    order = store.create(body)
    response.headers["Location"] = f"/orders/{order.id}"
    return order


@router.get("/orders/{order_id:id}", operation_id="getOrder", responses=problems(404, 422))
def get_order(order_id: OrderId, store: StoreDep) -> Order:
    return store.get(order_id)


@router.get(
    "/users/{user_id:id}/orders", operation_id="listUserOrders", responses=problems(404, 422)
)
def list_user_orders(
    user_id: UserId,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderList:
    orders = store.for_user(user_id, limit)
    return OrderList(items=orders, count=len(orders))


@router.put(
    "/orders/{order_id:id}/status",
    operation_id="updateOrderStatus",
    responses=problems(400, 404, 409, 422),
)
def update_order_status(order_id: OrderId, body: OrderStatusUpdate, store: StoreDep) -> Order:
    return store.set_status(order_id, body.status)


@router.post(
    "/orders/{order_id:id}/cancel",
    operation_id="cancelOrder",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 404, 409, 422),
)
def cancel_order(order_id: OrderId, body: OrderCancel, store: StoreDep) -> Order:
    return store.set_status(order_id, "cancelled", body.reason)
