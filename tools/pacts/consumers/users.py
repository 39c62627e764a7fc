"""What `shop.clients.users.UserServiceClient` sends to the users service and reads back."""

from __future__ import annotations

from pact import match

from django_interlink.exceptions import ResourceConflict, ResourceNotFound
from shop.clients.users import User, UserServiceClient
from tools.pacts.http import Case, problem, reads, uuid

ADA = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"
MISSING = "4b0e8bd5-2a8e-4f67-8c59-00000000dead"
ADA_STATE = {"id": ADA, "email": "ada@example.com", "name": "Ada", "is_active": True}
STAMP = "2026-11-25T08:00:00Z"


def user(**fields: object) -> dict[str, object]:
    example = {**ADA_STATE, "created_at": STAMP, "updated_at": STAMP, **fields}
    return reads(User, example, id=uuid(str(example["id"])))


CLIENT = UserServiceClient
CASES = [
    Case(
        "a request to create a user",
        "POST",
        "/users",
        201,
        lambda c: c.create_user(email="grace@example.com", name="Grace"),
        body={"email": "grace@example.com", "name": "Grace"},
        idempotent=True,
        created=True,
        response=user(email="grace@example.com", name="Grace"),
    ),
    Case(
        "a request to create a user whose e-mail is taken",
        "POST",
        "/users",
        409,
        lambda c: c.create_user(email="ada@example.com", name="Ada again"),
        state="a user exists",
        params=ADA_STATE,
        body={"email": "ada@example.com", "name": "Ada again"},
        idempotent=True,
        response=problem(409, "email-taken"),
        raises=ResourceConflict,
    ),
    Case(
        "a request for a user",
        "GET",
        f"/users/{ADA}",
        200,
        lambda c: c.get_user(user_id=ADA, use_cache=False),
        state="a user exists",
        params=ADA_STATE,
        response=user(),
    ),
    Case(
        "a request for a user that does not exist",
        "GET",
        f"/users/{MISSING}",
        404,
        lambda c: c.get_user(user_id=MISSING, use_cache=False),
        response=problem(404, "not-found"),
        raises=ResourceNotFound,
    ),
    Case(
        "a request to update a user",
        "PUT",
        f"/users/{ADA}",
        200,
        lambda c: c.update_user(
            user_id=ADA, email="ada@example.com", name="Ada L.", is_active=True
        ),
        state="a user exists",
        params=ADA_STATE,
        body={"email": "ada@example.com", "name": "Ada L.", "is_active": True},
        response=user(name="Ada L."),
    ),
    Case(
        "a search for users",
        "GET",
        "/users/search",
        200,
        lambda c: c.search_users(q="ada", limit=10),
        state="a user exists",
        params=ADA_STATE,
        query={"q": "ada", "limit": "10"},
        response={"items": match.each_like(user()), "count": match.like(1)},
    ),
]
