"""Idempotency-Key for the API's POSTs (draft-ietf-httpapi-idempotency-key-header), in the
database, with the stubs' semantics (mock_services/common/idempotency.py).

The same key with the same request replays the stored response; with another request (method,
path or body) it is a 422 (idempotency-key-reused); while the first request with the key is in
flight it is a 409 (idempotency-key-in-use). Keys are scoped to the account and kept for
INTERLINK['API']['IDEMPOTENCY_KEY_TTL'] (24 h, as the draft suggests); an older key is a new
request.

"In flight" is the transaction that runs the operation: the record is inserted first, in that
transaction, and completed with the response before it commits, so no other process ever sees a
half-done record. A twin request meets the uncommitted row on the unique (user, key) index; on
PostgreSQL it waits at most LOCK_TIMEOUT_MS for it (lock_timeout) and then answers 409, instead
of queueing behind the first. Refusals (the operation raised) roll the record back with
everything else, so a retry runs the operation again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from ..conf import ms_settings
from ..deletion import delete_in_batches
from ..models.api import IdempotencyRecord
from .problems import IdempotencyKeyInUse, IdempotencyKeyReused

__all__ = [
    "HEADER",
    "LOCK_TIMEOUT_MS",
    "StoredResponse",
    "fingerprint",
    "idempotency_purge_expired",
    "idempotent",
]

HEADER = "Idempotency-Key"
# How long a twin request waits for the first one's transaction before its 409 (PostgreSQL).
LOCK_TIMEOUT_MS = 200
# SQLSTATE lock_not_available: the lock_timeout ran out.
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class StoredResponse:
    """A JSON response as kept for replays: status, the headers that belong to it, body."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same" for a key: method, path and the body's bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _lock_timed_out(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE


def _replay(user: Any, key: str, print_: str) -> StoredResponse:
    record = IdempotencyRecord.objects.get(user=user, key=key)
    if record.fingerprint != print_:
        raise IdempotencyKeyReused
    if record.status_code is None:  # never committed so; kept as the draft's rule
        raise IdempotencyKeyInUse
    return StoredResponse(record.status_code, record.body, dict(record.headers))


def _insert(user: Any, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The key's new in-flight record, or None when the key has a record already."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate key must not end the transaction
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{int(LOCK_TIMEOUT_MS)}ms'")
            return IdempotencyRecord.objects.create(user=user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        return None
    except OperationalError as exc:
        if _lock_timed_out(exc):
            raise IdempotencyKeyInUse from exc
        raise


def _ttl() -> timedelta:
    return timedelta(seconds=float(ms_settings.API["IDEMPOTENCY_KEY_TTL"]))


def _forget_expired(user: Any, key: str) -> bool:
    """Delete the key's record if it outlived IDEMPOTENCY_KEY_TTL; True if it did.

    A twin request doing the same waits on the row and then finds it gone, so exactly one of
    them runs the operation again; the other meets the new record (409, or its replay).
    """
    cutoff = timezone.now() - _ttl()
    deleted, _ = IdempotencyRecord.objects.filter(
        user=user, key=key, created_at__lt=cutoff
    ).delete()
    return deleted > 0


def idempotent(
    *, user: Any, key: str, fingerprint: str, operation: Callable[[], StoredResponse]
) -> tuple[StoredResponse, bool]:
    """Run `operation` once per (user, key) within IDEMPOTENCY_KEY_TTL; returns (response,
    replayed). After the TTL the key is forgotten: using it again is a new request.

    `operation` runs inside the same transaction as the record, so what it stores and the
    record commit together; raise from it to refuse without remembering the key.
    """
    with transaction.atomic():
        record = _insert(user, key, fingerprint)
        if record is None and _forget_expired(user, key):
            record = _insert(user, key, fingerprint)
        if record is None:
            return _replay(user, key, fingerprint), True
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
        response = operation()
        record.status_code = response.status
        record.body = response.body
        record.headers = response.headers
        record.save(update_fields=["status_code", "body", "headers"])
        return response, False


def idempotency_purge_expired(*, batch_size: int = 1000) -> int:
    """Delete the records older than IDEMPOTENCY_KEY_TTL (they would be ignored anyway)."""
    expired = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - _ttl()).order_by()
    return delete_in_batches(expired, batch_size=batch_size)
