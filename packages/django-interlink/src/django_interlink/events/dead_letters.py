"""A consumer group's dead letters, as every bus keeps them: read, replayed, discarded.

    box = bus.dead_letter_box("billing")
    letters = box.read()                  # oldest first; reading removes nothing
    box.replay([letters[0].id])           # back to the group's queue or stream, event id kept
    box.discard([letters[1].id])

A replayed message carries its event id unchanged (the inbox keeps it to one effect) and a
replay count one higher; it leaves the dead letters only once the broker has the copy. Each bus
implements the box in its own module (memory.py, rabbitmq_dead_letters.py,
redis_dead_letters.py); the command and the admin reach it through dead_letter_service.py.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# How many failures a dead letter's history keeps (the latest ones).
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the box's own id of this dead letter (not the event's)
    group: str
    event_id: str  # "" when the body is not an event at all
    event_type: str
    reason: str
    attempts: int  # deliveries used up before it was dead-lettered
    first_failure: datetime | None
    last_failure: datetime | None
    replays: int = 0
    body: bytes = b""
    headers: dict[str, Any] = field(default_factory=dict)
    # [{"at": ISO 8601, "reason": ..., "attempt": n}], oldest first, as far as it is known
    history: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The listing's fields, JSON-ready."""
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "group": self.group,
            "reason": self.reason,
            "attempts": self.attempts,
            "replays": self.replays,
            "first_failure": _iso(self.first_failure),
            "last_failure": _iso(self.last_failure),
        }

    def details(self) -> dict[str, Any]:
        """Everything: the summary, headers, the attempt history and the body (as text)."""
        return {
            **self.summary(),
            "headers": {key: _jsonable(value) for key, value in self.headers.items()},
            "history": self.history,
            "body": self.body.decode("utf-8", errors="replace"),
        }


class DeadLetterBox(ABC):
    """One group's dead letters on one bus."""

    def __init__(self, group: str) -> None:
        self.group = group

    @abstractmethod
    def read(self, *, limit: int = 10_000) -> list[DeadLetter]:
        """Every dead letter (up to `limit`), oldest first, leaving them all in place."""

    def get(self, letter_id: str) -> DeadLetter | None:
        return next((letter for letter in self.read() if letter.id == letter_id), None)

    @abstractmethod
    def replay(self, ids: Sequence[str]) -> list[str]:
        """Send these back to the group, each removed once the broker has its copy; the ids
        replayed (an id not found is skipped)."""

    @abstractmethod
    def discard(self, ids: Sequence[str]) -> list[str]:
        """Remove these for good; the ids removed."""


def event_fields(body: bytes) -> tuple[str, str]:
    """(event_id, event_type) of a dead body, ("", "") when it is no envelope at all."""
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(decoded, dict):
        return "", ""
    return str(decoded.get("event_id") or ""), str(decoded.get("event_type") or "")


def failure(reason: str, attempt: int, at: datetime | None = None) -> dict[str, Any]:
    """One entry of a dead letter's history."""
    return {"at": _iso(at or datetime.now(UTC)), "reason": reason[:1000], "attempt": attempt}


def bounded(history: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(history)[-HISTORY_LIMIT:]


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
