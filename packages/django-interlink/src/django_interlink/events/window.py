"""The consume window: messages collected to be decided in one transaction and settled at once.

A backend adds every delivery, and settles what `take()` returns once `due()`: the window is
full (CONSUME_WINDOW), its first message has waited CONSUME_WINDOW_WAIT (a quiet queue is acked
promptly), it holds all the budget still wants (`max_messages`), or consuming stops.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

from .budget import ConsumeBudget

T = TypeVar("T")


class Window(Generic[T]):
    """Deliveries collected in order; the next window is up to `size` of them, the oldest
    waiting at most `wait` seconds. More may be collected than one window holds (the broker's
    prefetch is larger): they stay, in order, for the next one."""

    def __init__(self, size: int, wait: float, budget: ConsumeBudget) -> None:
        self.size = size
        self.wait = wait
        self.budget = budget
        self.pending: list[T] = []
        self._opened = 0.0

    def limit(self) -> int:
        """How many the next window takes: its size, within what the budget still wants."""
        limit = self.size
        if self.budget.max_messages is not None:
            limit = min(limit, self.budget.max_messages - self.budget.settled)
        return max(0, limit)

    def add(self, item: T) -> None:
        if not self.pending:
            self._opened = time.monotonic()
        self.pending.append(item)
        self.budget.mark_active()

    def due(self, stop: threading.Event) -> bool:
        """Should the next window be decided now?"""
        if not self.pending:
            return False
        return len(self.pending) >= self.limit() or stop.is_set() or self._waited() >= self.wait

    def time_limit(self, idle: float) -> float:
        """How long the backend may block for more: what is left of the wait, or `idle`."""
        if not self.pending:
            return idle
        return max(0.0, self.wait - self._waited())

    def take(self) -> list[T]:
        """The next window, in order; what is left starts the one after (its wait from now)."""
        limit = self.limit()
        taken, self.pending = self.pending[:limit], self.pending[limit:]
        self._opened = time.monotonic()
        return taken

    def put_back(self, items: list[T]) -> None:
        """Deliveries taken but deferred (our infrastructure failed): first in the next window."""
        if items:
            self.pending[:0] = items

    def _waited(self) -> float:
        return time.monotonic() - self._opened
