"""When a `consume()` call stops by itself: after `max_messages` settled, or idle too long.

Every backend's consume loop asks the same three things of one `ConsumeBudget`:

    budget = ConsumeBudget(max_messages=max_messages, idle_timeout=idle_timeout)
    while not stop.is_set() and not budget.exhausted:   # may I take another?
        message = receive()
        if message is None:
            if budget.idle_expired():                    # idle for too long?
                break
            continue
        budget.mark_active()
        ...                                              # dispatch, carry out the outcome
        budget.settled_one()                             # unless it is to be retried
    return budget.settled

What counts as settled (acked or dead-lettered, not a retry) is the backend's to say.
"""

from __future__ import annotations

import time


class ConsumeBudget:
    """The settled count, the max-messages rule and the idle rule of one `consume()` call."""

    def __init__(self, *, max_messages: int | None, idle_timeout: float | None) -> None:
        self.max_messages = max_messages
        self.idle_timeout = idle_timeout
        self.settled = 0
        self._last_activity = time.monotonic()
        self._idle_expired = False

    @property
    def exhausted(self) -> bool:
        """True once `max_messages` were settled, or once `idle_expired()` said so."""
        if self._idle_expired:
            return True
        return self.max_messages is not None and self.settled >= self.max_messages

    def settled_one(self) -> None:
        self.settled += 1

    def mark_active(self) -> None:
        """Something arrived or was handled: the idle time starts again from now."""
        self._last_activity = time.monotonic()

    def idle_expired(self) -> bool:
        """Has nothing arrived for `idle_timeout` seconds? Once true, the budget is exhausted:
        a loop that only checks `exhausted` (a broker callback) stops taking messages too."""
        if self.idle_timeout is not None and (
            time.monotonic() - self._last_activity >= self.idle_timeout
        ):
            self._idle_expired = True
        return self._idle_expired
