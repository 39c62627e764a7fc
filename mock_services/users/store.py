"""In-memory users; e-mail addresses are unique regardless of case."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel

from mock_services.common.errors import ProblemError
from mock_services.common.store import LockedStore, utcnow
from mock_services.users.schemas import User, UserCreate, UserUpdate


def _email_taken(email: str) -> ProblemError:
    return ProblemError(409, "email-taken", f"The e-mail address {email} is already in use.")


def user_not_found(user_id: str) -> ProblemError:
    return ProblemError(404, "not-found", f"User {user_id} does not exist.")


class UsersStore(LockedStore):
    def _initial_state(self) -> None:
        self._users: dict[str, User] = {}

    def _tables(self) -> Mapping[str, Mapping[str, BaseModel]]:
        return {"users": self._users}

    def seed(self, user: User) -> None:
        """Put `user` in under its own id (provider states: a record the pact names)."""
        with self._lock:
            self._users[user.id] = user

    def _email_owner(self, email: str) -> str | None:
        wanted = email.casefold()
        for user in self._users.values():
            if user.email.casefold() == wanted:
                return user.id
        return None

    def create(self, data: UserCreate) -> User:
        with self._lock:
            if self._email_owner(data.email) is not None:
                raise _email_taken(data.email)
            now = utcnow()
            user = User(id=str(uuid.uuid4()), created_at=now, updated_at=now, **data.model_dump())
            self._users[user.id] = user
            return user

    def get(self, user_id: str) -> User:
        with self._lock:
            user = self._users.get(user_id.lower())
            if user is None:
                raise user_not_found(user_id)
            return user

    def update(self, user_id: str, data: UserUpdate) -> User:
        with self._lock:
            current = self.get(user_id)
            owner = self._email_owner(data.email)
            if owner is not None and owner != current.id:
                raise _email_taken(data.email)
            updated = current.model_copy(update={**data.model_dump(), "updated_at": utcnow()})
            self._users[current.id] = updated
            return updated

    def search(self, query: str, limit: int) -> list[User]:
        """Case-insensitive substring match on e-mail or name, oldest first."""
        wanted = query.casefold()
        with self._lock:
            matches = [
                user
                for user in self._users.values()
                if wanted in user.email.casefold() or wanted in user.name.casefold()
            ]
        matches.sort(key=lambda user: (user.created_at, user.id))
        return matches[:limit]
