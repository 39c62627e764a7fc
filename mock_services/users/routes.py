"""Users service routes."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response

from mock_services.common.idempotency import IdempotencyKeyHeader, ReplayableRoute
from mock_services.common.types import id_path, problems
from mock_services.users.schemas import User, UserCreate, UserList, UserUpdate
from mock_services.users.store import UsersStore

router = APIRouter(tags=["users"], route_class=ReplayableRoute)


def _store(request: Request) -> UsersStore:
    return cast(UsersStore, request.app.state.runtime.store)


StoreDep = Annotated[UsersStore, Depends(_store)]
UserId = Annotated[str, id_path("The user's id.")]


@router.post(
    "/users",
    status_code=201,
    operation_id="createUser",
    dependencies=[IdempotencyKeyHeader],
    responses=problems(400, 409, 422),
)
def create_user(body: UserCreate, store: StoreDep, response: Response) -> User:
    user = store.create(body)
    response.headers["Location"] = f"/users/{user.id}"
    return user


@router.get("/users/search", operation_id="searchUsers", responses=problems(422))
def search_users(
    store: StoreDep,
    q: Annotated[str, Query(min_length=1, max_length=254)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> UserList:
    users = store.search(q, limit)
    return UserList(items=users, count=len(users))


@router.get("/users/{user_id:id}", operation_id="getUser", responses=problems(404, 422))
def get_user(user_id: UserId, store: StoreDep) -> User:
    return store.get(user_id)


@router.put(
    "/users/{user_id:id}", operation_id="updateUser", responses=problems(400, 404, 409, 422)
)
def update_user(user_id: UserId, body: UserUpdate, store: StoreDep) -> User:
    return store.update(user_id, body)
