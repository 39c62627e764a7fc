"""Provider states of the users stub, named as the consumer pacts name them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mock_services.common.states import StateHandler
from mock_services.common.store import utcnow
from mock_services.users.schemas import User
from mock_services.users.store import UsersStore


def user_exists(store: UsersStore, params: Mapping[str, Any]) -> None:
    now = utcnow()
    store.seed(
        User(
            id=params["id"],
            email=params["email"],
            name=params["name"],
            is_active=params.get("is_active", True),
            created_at=now,
            updated_at=now,
        )
    )


STATES: dict[str, StateHandler] = {"a user exists": user_exists}
