"""Bearer tokens for API clients: issued to a Django account, kept as a SHA-256 digest.

A token is 32 random bytes (URL-safe base64) shown once at issue; the database holds only its
digest, so a database dump lets nobody call the API. Looking a digest up by its unique index
reveals nothing useful through timing: the digest of a guess is unrelated to any stored one.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils import timezone

from ..models.api import ApiToken
from .problems import Unauthorized

__all__ = [
    "api_token_issue",
    "api_token_revoke",
    "authenticate_bearer",
    "authenticate_token",
    "bearer_token",
]

PREFIX_LENGTH = 6


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_issue(*, user: Any, name: str = "") -> str:
    """A new token for `user`; the only time its value is known."""
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=user, name=name, digest=_digest(token), prefix=token[:PREFIX_LENGTH]
    )
    return token


def api_token_revoke(*, token: str) -> bool:
    """Revoke a token by its value; False if it was unknown or already revoked."""
    return (
        ApiToken.objects.filter(digest=_digest(token), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        == 1
    )


def bearer_token(request: HttpRequest) -> str | None:
    """The credentials of an `Authorization: Bearer <token>` header (RFC 6750), else None."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


def authenticate_bearer(request: HttpRequest) -> Any:
    """The active account whose live token the request carries; `Unauthorized` otherwise."""
    return authenticate_token(request).user


def authenticate_token(request: HttpRequest) -> ApiToken:
    """The live token the request carries, of an active account; `Unauthorized` otherwise."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized
    found = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(token), revoked_at__isnull=True)
        .first()
    )
    if found is None or not found.user.is_active:
        raise Unauthorized("The bearer token is unknown, revoked, or its account is disabled.")
    user_model = get_user_model()
    assert isinstance(found.user, user_model)
    return found
