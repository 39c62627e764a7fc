"""wait_until, the one polling helper of every suite."""

from __future__ import annotations

import time

import pytest

from servers.waiting import WaitTimeout, wait_until


def test_returns_as_soon_as_the_predicate_holds():
    """The third call is true: exactly three calls, no error."""
    answers = [False, False, True]
    calls = 0

    def third_time() -> bool:
        nonlocal calls
        calls += 1
        return answers[calls - 1]

    wait_until(third_time, timeout=5, interval=0.01, what="the third call")
    assert calls == 3


def test_times_out_with_what_it_waited_for_as_an_assertion_error():
    """A predicate that never holds: WaitTimeout, an AssertionError naming `what` and timeout."""
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: False, timeout=0.05, interval=0.01, what="the impossible")
    assert isinstance(raised.value, AssertionError)
    assert str(raised.value) == "timed out after 0.05 s waiting for the impossible"


def test_the_predicate_is_asked_once_more_at_the_deadline():
    """An interval longer than the timeout still ends with a last call, at the deadline."""
    calls: list[float] = []

    def late() -> bool:
        calls.append(time.monotonic())
        return len(calls) == 2

    started = time.monotonic()
    wait_until(late, timeout=0.1, interval=10, what="the second call")
    assert len(calls) == 2
    assert calls[1] - started < 1


def test_an_error_in_the_predicate_is_not_swallowed():
    """A predicate that raises ends the wait with its own error."""

    def broken() -> bool:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        wait_until(broken, timeout=5, what="nothing")
