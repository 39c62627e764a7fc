"""Base class of the in-memory service stores: one lock guards all state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


class LockedStore:
    """Subclasses keep their dicts behind `self._lock` and rebuild them in `_initial_state()`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        with self._lock:
            self._initial_state()

    def _initial_state(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything, then re-seed."""
        with self._lock:
            self._initial_state()
