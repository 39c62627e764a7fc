"""POST /api/orders is rate-limited per token (429 with Retry-After, a problem); an
Idempotency-Key is remembered for IDEMPOTENCY_KEY_TTL, after which it is a new request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from django_interlink.conf import _merge
from django_interlink.models import IdempotencyRecord, RateLimitWindow, SagaExecution

from .api_support import VALID_ORDER, ApiClient, problem_of

pytestmark = pytest.mark.django_db

# Windows start at multiples of their length since the epoch: with ~31 years, no test's
# requests straddle two windows.
WINDOW = 10**9


def api_settings(**api):
    return override_settings(INTERLINK=_merge(settings.INTERLINK, {"API": api}))


def test_over_the_limit_a_post_is_a_429_problem_with_retry_after():
    """RATE_LIMIT 2: the third POST in the window is refused, stores nothing, says when to retry."""
    api = ApiClient()
    with api_settings(RATE_LIMIT=2, RATE_LIMIT_WINDOW=WINDOW):
        assert [api.post_order(key=f"k{i}").status_code for i in range(2)] == [202, 202]
        refused = api.post_order(key="k2")
    assert refused.status_code == 429
    body = problem_of(refused)
    assert body["type"] == "https://errors.example.com/too-many-requests"
    assert 1 <= int(refused["Retry-After"]) <= WINDOW
    assert (
        body["detail"] == f"Too many requests with this token; retry in {refused['Retry-After']} s."
    )
    assert SagaExecution.objects.count() == 2


def test_the_limit_is_per_token_and_reads_are_not_counted():
    """Another account's token has its own window; GET /api/orders is never limited."""
    ada, bob = ApiClient("ada"), ApiClient("bob")
    with api_settings(RATE_LIMIT=1, RATE_LIMIT_WINDOW=WINDOW):
        assert ada.post_order(key="a").status_code == 202
        assert ada.post_order(key="b").status_code == 429
        assert bob.post_order(key="a").status_code == 202
        assert [ada.get("/api/orders").status_code for _ in range(3)] == [200] * 3


def test_the_count_lives_in_the_database():
    """One row per token and window, counting every POST: what other processes read too."""
    api = ApiClient()
    with api_settings(RATE_LIMIT=5, RATE_LIMIT_WINDOW=WINDOW):
        for i in range(3):
            api.post_order(key=f"k{i}")
    (window,) = RateLimitWindow.objects.all()
    assert window.hits == 3
    assert window.key.endswith(":POST shop.api.views.orders")
    assert window.window_start % WINDOW == 0


def test_rate_limit_0_turns_it_off():
    api = ApiClient()
    with api_settings(RATE_LIMIT=0):
        assert {api.post_order(key=f"k{i}").status_code for i in range(5)} == {202}
    assert not RateLimitWindow.objects.exists()


def test_a_key_within_its_ttl_replays():
    api = ApiClient()
    first = api.post_order(key="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23))
    again = api.post_order(key="k")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_a_key_after_its_ttl_is_a_new_request():
    """24 h later the same key (and body) stores a second order request, not a replay."""
    api = ApiClient()
    first = api.post_order(key="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = api.post_order(key="k")
    assert again.status_code == 202
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert SagaExecution.objects.count() == 2
    (record,) = IdempotencyRecord.objects.all()
    assert record.body == again.json()


def test_an_expired_key_may_come_with_another_body():
    """Forgotten means forgotten: a different order under an old key is not a 422."""
    api = ApiClient()
    api.post_order(key="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))
    with api_settings(IDEMPOTENCY_KEY_TTL=86400):
        response = api.post_order({**VALID_ORDER, "currency": "EUR"}, key="k")
    assert response.status_code == 202
