"""Client of the users service (contracts/users.yaml), with a read-through cache of users."""

from __future__ import annotations

from typing import Any, TypedDict, cast

from django.core.cache import cache

from django_interlink.clients.base import ServiceClient, quote

from ..conf import shop_settings


class User(TypedDict):
    id: str
    email: str
    name: str
    is_active: bool
    created_at: str
    updated_at: str


class UserList(TypedDict):
    items: list[User]
    count: int


def user_cache_key(user_id: str) -> str:
    return f"interlink:users:user:{user_id}"


class UserServiceClient(ServiceClient):
    """createUser, getUser (cached USER_CACHE_TTL seconds), updateUser, searchUsers."""

    service_name = "users"

    def create_user(
        self,
        *,
        email: str,
        name: str,
        is_active: bool | None = None,
        idempotency_key: str | None = None,
    ) -> User:
        """Create a user; 409 (ResourceConflict) if the email is taken."""
        body: dict[str, Any] = {"email": email, "name": name}
        if is_active is not None:
            body["is_active"] = is_active
        response = self.post(
            "/users",
            operation="createUser",
            json=body,
            idempotency_key=idempotency_key,
            idempotent=True,
        )
        return cast(User, response.data)

    def get_user(self, *, user_id: str, use_cache: bool = True) -> User:
        """The user, from Django's cache when fresh; 404 (ResourceNotFound) if unknown.

        Only found users are cached (a 404 is not), for USER_CACHE_TTL seconds (0 = no cache).
        """
        ttl = int(shop_settings.USER_CACHE_TTL)
        key = user_cache_key(user_id)
        if use_cache and ttl > 0:
            cached = cache.get(key)
            if cached is not None:
                return cast(User, cached)
        user = cast(User, self.get(f"/users/{quote(user_id)}", operation="getUser").data)
        if ttl > 0:
            cache.set(key, user, ttl)
        return user

    def update_user(self, *, user_id: str, email: str, name: str, is_active: bool) -> User:
        """Replace the user's editable fields; the cached copy is dropped so reads are fresh."""
        try:
            response = self.put(
                f"/users/{quote(user_id)}",
                operation="updateUser",
                json={"email": email, "name": name, "is_active": is_active},
            )
        finally:
            # Also on failure: a timeout may hide an update the service applied.
            cache.delete(user_cache_key(user_id))
        return cast(User, response.data)

    def invalidate_user(self, *, user_id: str) -> None:
        """Drop the cached copy (e.g. on a `user.updated` event from another writer)."""
        cache.delete(user_cache_key(user_id))

    def search_users(self, *, q: str, limit: int | None = None) -> UserList:
        """Users whose email or name matches `q` (limit 1..100, service default 20)."""
        response = self.get(
            "/users/search", operation="searchUsers", params={"q": q, "limit": limit}
        )
        return cast(UserList, response.data)
