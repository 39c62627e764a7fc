"""A fixed-window rate limit per bearer token, counted in the database.

Each rate-limited request adds one hit to the row of (token and operation, current window) in
one atomic upsert and learns the new count; over INTERLINK['API']['RATE_LIMIT'] in the
window it is refused with a 429 whose Retry-After is the time left in the window. The database
holds the count because the limit must hold across server processes and hosts, which a
per-process cache would not; the API already writes there for every POST, one more statement
costs little, and nothing new must be deployed. A fixed window can let up to twice the limit
through around a window's edge: fine for abuse control, which is what this is.
"""

from __future__ import annotations

import math
import time

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from ..conf import ms_settings
from ..deletion import delete_in_batches
from ..models.api import RateLimitWindow
from .problems import TooManyRequests

__all__ = ["rate_limit_hit", "rate_limit_purge"]

_UPSERT_VENDORS = frozenset({"postgresql", "sqlite"})


def _count(key: str, window_start: int) -> int:
    """Add one hit to the window's row (created at 1) and return its count, atomically."""
    if connection.vendor in _UPSERT_VENDORS:
        table, key_, start, hits = (
            connection.ops.quote_name(name)
            for name in (RateLimitWindow._meta.db_table, "key", "window_start", "hits")
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({key_}, {start}, {hits}) VALUES (%s, %s, 1) "  # noqa: S608
                f"ON CONFLICT ({key_}, {start}) DO UPDATE SET {hits} = {table}.{hits} + 1 "
                f"RETURNING {hits}",
                [key, window_start],
            )
            row = cursor.fetchone()
        return int(row[0])
    window = RateLimitWindow.objects.filter(key=key, window_start=window_start)
    if not window.update(hits=F("hits") + 1):
        try:
            with transaction.atomic():
                RateLimitWindow.objects.create(key=key, window_start=window_start, hits=1)
                return 1
        except IntegrityError:  # a concurrent request created it first
            window.update(hits=F("hits") + 1)
    return int(window.values_list("hits", flat=True).get())


def rate_limit_hit(*, key: str) -> None:
    """Count one request of `key`; TooManyRequests (429, Retry-After) when over the limit."""
    limit = int(ms_settings.API["RATE_LIMIT"])
    if limit <= 0:
        return
    length = int(ms_settings.API["RATE_LIMIT_WINDOW"])
    now = time.time()
    window_start = int(now // length) * length
    if _count(key, window_start) > limit:
        raise TooManyRequests(retry_after=max(1, math.ceil(window_start + length - now)))


def rate_limit_purge(*, batch_size: int = 1000) -> int:
    """Delete the counters of windows that have ended."""
    length = int(ms_settings.API["RATE_LIMIT_WINDOW"])
    ended = RateLimitWindow.objects.filter(window_start__lt=time.time() - length).order_by()
    return delete_in_batches(ended, batch_size=batch_size)
