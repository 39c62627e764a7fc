"""The consume window: messages collected to be decided in one transaction and settled at once.

A backend adds each delivery while `room()` allows, and settles what `take()` returns once
`due()`: the window is full (CONSUME_WINDOW), its first message has waited CONSUME_WINDOW_WAIT
(a quiet queue is acked promptly), the budget needs no more (`max_messages`), or consuming stops.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

from .budget import ConsumeBudget

T = TypeVar("T")


class Window(Generic[T]):
    """Up to `size` collected deliveries, the oldest waiting at most `wait` seconds."""

    def __init__(self, size: int, wait: float, budget: ConsumeBudget) -> None:
        self.size = size
        self.wait = wait
        self.budget = budget
        self.pending: list[T] = []
        self._opened = 0.0

    def room(self) -> int:
        """How many more deliveries may join: the window's size, within the budget."""
        room = self.size - len(self.pending)
        if self.budget.max_messages is not None:
            room = min(room, self.budget.max_messages - self.budget.settled - len(self.pending))
        return max(0, room)

    def add(self, item: T) -> None:
        if not self.pending:
            self._opened = time.monotonic()
        self.pending.append(item)
        self.budget.mark_active()

    def due(self, stop: threading.Event) -> bool:
        """Should the collected deliveries be decided now?"""
        if not self.pending:
            return False
        return self.room() == 0 or stop.is_set() or self._waited() >= self.wait

    def time_limit(self, idle: float) -> float:
        """How long the backend may block for more: what is left of the wait, or `idle`."""
        if not self.pending:
            return idle
        return max(0.0, self.wait - self._waited())

    def take(self) -> list[T]:
        taken, self.pending = self.pending, []
        return taken

    def _waited(self) -> float:
        return time.monotonic() - self._opened
