"""Bearer tokens: shown once, kept as a digest, refused once revoked or the account disabled."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from django_interlink.api.problems import Unauthorized
from django_interlink.api.tokens import api_token_issue, api_token_revoke, authenticate_bearer
from django_interlink.models import ApiToken

pytestmark = pytest.mark.django_db


def _request(authorization: str | None):
    headers = {"Authorization": authorization} if authorization else {}
    return RequestFactory().get("/api/orders", headers=headers)


def test_only_the_digest_of_a_token_is_stored():
    user = get_user_model().objects.create_user("ada")
    token = api_token_issue(user=user, name="cli")
    stored = ApiToken.objects.get()
    assert stored.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.digest, stored.name} and stored.prefix == token[:6]
    assert authenticate_bearer(_request(f"Bearer {token}")) == user


def test_revoked_tokens_and_disabled_accounts_are_refused():
    user = get_user_model().objects.create_user("ada")
    revoked, live = api_token_issue(user=user), api_token_issue(user=user)
    assert api_token_revoke(token=revoked)
    with pytest.raises(Unauthorized):
        authenticate_bearer(_request(f"Bearer {revoked}"))
    user.is_active = False
    user.save()
    with pytest.raises(Unauthorized):
        authenticate_bearer(_request(f"Bearer {live}"))


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Token abc", "bearer-abc"])
def test_a_missing_or_malformed_header_is_unauthorized(header):
    with pytest.raises(Unauthorized):
        authenticate_bearer(_request(header))
