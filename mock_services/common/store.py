"""Base class of the in-memory service stores: one lock guards all state."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

# Table name -> its records as plain dicts, in the order they were stored.
Snapshot = dict[str, list[dict[str, Any]]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class LockedStore:
    """Subclasses keep their dicts behind `self._lock`, rebuild them in `_initial_state()` and
    name them in `_tables()`; callers outside the store read `snapshot()`, never the dicts."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        with self._lock:
            self._initial_state()

    def _initial_state(self) -> None:
        raise NotImplementedError

    def _tables(self) -> Mapping[str, Mapping[str, BaseModel]]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything, then re-seed."""
        with self._lock:
            self._initial_state()

    def snapshot(self) -> Snapshot:
        """Every record as plain data, copied under the lock: the ground truth the tests, the
        demo and the playground read (the contracts have no listing endpoints). Changing what
        it returns changes nothing in the store."""
        with self._lock:
            return {
                name: [record.model_dump() for record in records.values()]
                for name, records in self._tables().items()
            }
