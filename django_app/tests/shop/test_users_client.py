"""UserServiceClient against the users stub: every operation, typed errors, the user cache."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.exceptions import ResourceConflict, ResourceNotFound, UnprocessableEntity
from shop.clients.users import user_cache_key

pytestmark = pytest.mark.usefixtures("reset_stubs")


def _email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def test_create_user_returns_the_contract_shape(users_client):
    """createUser returns the User the stub stored, active by default."""
    email = _email()
    user = users_client.create_user(email=email, name="Ada")
    assert user["email"] == email
    assert user["name"] == "Ada"
    assert user["is_active"] is True
    assert set(user) == {"id", "email", "name", "is_active", "created_at", "updated_at"}


def test_create_user_can_create_an_inactive_user(users_client):
    """is_active=False is sent and kept."""
    assert users_client.create_user(email=_email(), name="G", is_active=False)["is_active"] is False


def test_get_user_reads_the_created_user(users_client):
    """getUser returns what createUser made."""
    created = users_client.create_user(email=_email(), name="Ada")
    assert users_client.get_user(user_id=created["id"]) == created


def test_search_users_finds_by_email_and_honours_limit(users_client):
    """searchUsers matches e-mail substrings; limit caps the items and count."""
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        users_client.create_user(email=f"s{n}-{tag}@example.com", name=f"S{n}")
    assert users_client.search_users(q=tag)["count"] == 3
    limited = users_client.search_users(q=tag, limit=2)
    assert (limited["count"], len(limited["items"])) == (2, 2)


def test_update_user_replaces_the_fields(users_client):
    """updateUser returns the user with the new fields."""
    user = users_client.create_user(email=_email(), name="Ada")
    new_email = _email()
    updated = users_client.update_user(
        user_id=user["id"], email=new_email, name="Ada King", is_active=False
    )
    assert (updated["email"], updated["name"], updated["is_active"]) == (
        new_email,
        "Ada King",
        False,
    )


def test_unknown_user_is_resource_not_found_with_problem_detail(users_client):
    """A 404 is ResourceNotFound (a LookupError) carrying the problem+json body."""
    missing = str(uuid.uuid4())
    with pytest.raises(ResourceNotFound) as info:
        users_client.get_user(user_id=missing)
    error = info.value
    assert isinstance(error, LookupError)
    assert error.status_code == 404
    assert error.problem["type"] == "https://errors.example.com/not-found"
    assert error.problem["status"] == 404
    assert missing in error.problem["detail"]
    assert (error.service, error.operation) == ("users", "getUser")


def test_taken_email_is_resource_conflict(users_client):
    """Creating a second user with the same e-mail is a 409 ResourceConflict."""
    email = _email()
    users_client.create_user(email=email, name="A")
    with pytest.raises(ResourceConflict) as info:
        users_client.create_user(email=email.upper(), name="B")
    assert info.value.status_code == 409
    assert info.value.problem["type"] == "https://errors.example.com/email-taken"


def test_reused_idempotency_key_with_another_body_is_unprocessable(users_client):
    """Same Idempotency-Key, different body: the service's 422 becomes UnprocessableEntity."""
    key = str(uuid.uuid4())
    users_client.create_user(email=_email(), name="A", idempotency_key=key)
    with pytest.raises(UnprocessableEntity) as info:
        users_client.create_user(email=_email(), name="B", idempotency_key=key)
    assert info.value.status_code == 422
    assert info.value.problem["type"] == "https://errors.example.com/idempotency-key-reused"


def test_same_idempotency_key_and_body_returns_the_same_user(users_client):
    """A repeated create with the same key is replayed, not applied twice."""
    key, email = str(uuid.uuid4()), _email()
    first = users_client.create_user(email=email, name="A", idempotency_key=key)
    again = users_client.create_user(email=email, name="A", idempotency_key=key)
    assert again == first
    assert users_client.search_users(q=email)["count"] == 1


def test_get_user_is_served_from_the_cache(users_client, client_log):
    """The second read of a user makes no call: it comes from Django's cache."""
    user = users_client.create_user(email=_email(), name="Ada")
    users_client.get_user(user_id=user["id"])
    users_client.get_user(user_id=user["id"])
    get_calls = [r for r in client_log() if r.operation == "getUser"]
    assert len(get_calls) == 1
    assert cache.get(user_cache_key(user["id"])) == user


def test_cache_holds_a_stale_copy_until_invalidated(users_client, stub_token):
    """A change made behind the client's back stays invisible until the entry is invalidated."""
    user = users_client.create_user(email=_email(), name="Old")
    users_client.get_user(user_id=user["id"])
    with ServiceClient("users") as raw:  # another writer, bypassing the cache
        raw.put(
            f"/users/{user['id']}",
            operation="updateUser",
            json={"email": user["email"], "name": "New", "is_active": True},
        )
    assert users_client.get_user(user_id=user["id"])["name"] == "Old"
    users_client.invalidate_user(user_id=user["id"])
    assert users_client.get_user(user_id=user["id"])["name"] == "New"


def test_update_user_invalidates_the_cached_user(users_client, client_log):
    """After update_user, get_user fetches the fresh user from the service."""
    user = users_client.create_user(email=_email(), name="Old")
    assert users_client.get_user(user_id=user["id"])["name"] == "Old"
    users_client.update_user(user_id=user["id"], email=user["email"], name="New", is_active=True)
    fresh = users_client.get_user(user_id=user["id"])
    assert fresh["name"] == "New"
    assert len([r for r in client_log() if r.operation == "getUser"]) == 2


def test_not_found_users_are_not_cached(users_client, client_log):
    """A 404 is not remembered: each read asks the service again."""
    missing = str(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(ResourceNotFound):
            users_client.get_user(user_id=missing)
    assert len(client_log()) == 2


def test_user_cache_ttl_zero_disables_the_cache(users_client, services_settings, client_log):
    """USER_CACHE_TTL 0: every get_user is a call."""
    user = users_client.create_user(email=_email(), name="Ada")
    with override_settings(SHOP={"USER_CACHE_TTL": 0}):
        users_client.get_user(user_id=user["id"])
        users_client.get_user(user_id=user["id"])
    assert len([r for r in client_log() if r.operation == "getUser"]) == 2
