"""The API's limits on PostgreSQL: the rate-limit upsert counts exactly under concurrent
connections, and an expired Idempotency-Key is taken over by exactly one request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from tests.shop.api_support import ApiClient

from django_interlink.api.problems import TooManyRequests
from django_interlink.api.ratelimit import rate_limit_hit
from django_interlink.conf import _merge
from django_interlink.models import IdempotencyRecord, RateLimitWindow, SagaExecution

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12
LIMIT = 5


def at_once(call: Callable[[], object], count: int) -> list[object]:
    """`call` from `count` threads released together, each on its own connection."""
    barrier = threading.Barrier(count)

    def run() -> object:
        barrier.wait()
        try:
            return call()
        except Exception as exc:  # the outcome is what is compared
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(count)]]


def test_concurrent_hits_are_counted_exactly(postgres):
    """12 requests at once against a limit of 5: exactly 5 pass, 7 get a 429, count 12."""
    conf = _merge(settings.INTERLINK, {"API": {"RATE_LIMIT": LIMIT, "RATE_LIMIT_WINDOW": 10**9}})
    with override_settings(INTERLINK=conf):
        outcomes = at_once(lambda: rate_limit_hit(key="token:op"), THREADS)
    refused = [o for o in outcomes if isinstance(o, TooManyRequests)]
    assert (len(refused), outcomes.count(None)) == (THREADS - LIMIT, LIMIT)
    assert RateLimitWindow.objects.get().hits == THREADS


def test_an_expired_key_is_taken_over_by_exactly_one_of_its_twins(postgres):
    """The key's record is 25 h old; twins arriving at once with it: one stores a new order
    request, the others are told it is in flight (409) or replay the new one, never a 500."""
    api = ApiClient()
    api.post_order(key="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    statuses = at_once(lambda: api.post_order(key="k").status_code, 4)
    assert statuses.count(202) >= 1
    assert set(statuses) <= {202, 409}
    assert SagaExecution.objects.count() == 2
    assert IdempotencyRecord.objects.get().created_at > timezone.now() - timedelta(minutes=5)
