"""ConsumeBudget: when a consume loop stops by itself (max messages settled, idle too long)."""

from __future__ import annotations

import pytest

from django_interlink.events import budget as budget_module
from django_interlink.events.budget import ConsumeBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(budget_module, "time", fake)
    return fake


def test_budget_is_exhausted_once_max_messages_are_settled():
    """Two settled of max two: exhausted, not before."""
    budget = ConsumeBudget(max_messages=2, idle_timeout=None)
    exhausted = []
    for _ in range(2):
        exhausted.append(budget.exhausted)
        budget.settled_one()
    exhausted.append(budget.exhausted)
    assert exhausted == [False, False, True]
    assert budget.settled == 2


def test_budget_without_max_messages_is_not_exhausted_by_settling():
    budget = ConsumeBudget(max_messages=None, idle_timeout=None)
    for _ in range(1000):
        budget.settled_one()
    assert (budget.exhausted, budget.settled) == (False, 1000)


def test_idle_timeout_expires_after_that_long_without_activity(clock):
    """Idle 4.9 s of 5: not yet; 5 s: expired, and the budget is exhausted from then on."""
    budget = ConsumeBudget(max_messages=None, idle_timeout=5.0)
    clock.now += 4.9
    before = (budget.idle_expired(), budget.exhausted)
    clock.now += 0.1
    after = (budget.idle_expired(), budget.exhausted)
    assert before == (False, False)
    assert after == (True, True)


def test_activity_restarts_the_idle_time(clock):
    budget = ConsumeBudget(max_messages=None, idle_timeout=5.0)
    clock.now += 4.0
    budget.mark_active()
    clock.now += 4.0
    assert budget.idle_expired() is False


def test_an_expired_budget_stays_exhausted_after_activity(clock):
    """A broker callback that only checks `exhausted` must not take a message after expiry."""
    budget = ConsumeBudget(max_messages=None, idle_timeout=5.0)
    clock.now += 5.0
    assert budget.idle_expired() is True
    budget.mark_active()
    assert budget.exhausted is True


def test_no_idle_timeout_never_expires(clock):
    budget = ConsumeBudget(max_messages=None, idle_timeout=None)
    clock.now += 1e9
    assert (budget.idle_expired(), budget.exhausted) == (False, False)
