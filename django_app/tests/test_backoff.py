"""The one exponential backoff every retry loop uses."""

from __future__ import annotations

from django_interlink.backoff import exponential_backoff


def test_backoff_doubles_from_the_base_per_attempt():
    """Attempt n waits base * 2 ** (n - 1)."""
    assert [exponential_backoff(n, base=0.1, cap=100.0) for n in (1, 2, 3, 4)] == [
        0.1,
        0.2,
        0.4,
        0.8,
    ]


def test_backoff_is_capped():
    """No wait exceeds the cap."""
    assert exponential_backoff(30, base=0.5, cap=300.0) == 300.0


def test_attempt_zero_waits_the_base():
    """A first delivery counted as 0 waits as attempt 1 does."""
    assert exponential_backoff(0, base=0.2, cap=5.0) == 0.2
