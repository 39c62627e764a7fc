"""What the HTTP API mechanisms keep: bearer tokens of API clients, Idempotency-Key records,
rate-limit counters.

All live in the database, so they hold across restarts and every server process sees them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["ApiToken", "IdempotencyRecord", "RateLimitWindow"]


class ApiToken(models.Model):
    """A bearer token of one Django account. Only its SHA-256 is kept: the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, default="")
    digest = models.CharField(max_length=64, unique=True)
    # The token's first characters, so a person can tell tokens apart without holding one.
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}, {self.name or 'unnamed'})"


class IdempotencyRecord(models.Model):
    """The first response to one (account, Idempotency-Key), replayed to the key's retries.

    Written in the transaction of the operation itself: other transactions see the key only once
    the operation committed, and the unique constraint makes a concurrent twin wait (or fail).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict)
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="ms_idempotency_user_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="ms_idempotency_created")]

    def __str__(self) -> str:
        return f"{self.user} {self.key} ({self.status_code})"


class RateLimitWindow(models.Model):
    """How many requests one key (a token and an operation) made in one fixed window.

    In the database, like the tokens: every server process counts in the same row, with one
    atomic upsert a request (django_interlink.api.ratelimit).
    """

    key = models.CharField(max_length=200)
    # The window's start, in whole seconds since the epoch (a multiple of its length)
    window_start = models.BigIntegerField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ms_ratelimit_key_window")
        ]
        indexes = [models.Index(fields=["window_start"], name="ms_ratelimit_start")]

    def __str__(self) -> str:
        return f"{self.key} @{self.window_start}: {self.hits}"
