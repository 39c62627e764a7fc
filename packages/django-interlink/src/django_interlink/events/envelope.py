"""The event envelope: what every event on every bus looks like, and its JSON encoding.

`Envelope.new(...)` fills in the id, the time, the producer and the correlation id (the request
id of the work in progress). Consumers decode and validate a body with
`events.contract.validate_body`, which raises `EventContractViolation` for anything that is not a
valid envelope.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..conf import ms_settings
from ..exceptions import EventContractViolation
from ..request_id import request_id_for_call

ENVELOPE_FIELDS = (
    "event_id",
    "event_type",
    "version",
    "occurred_at",
    "producer",
    "correlation_id",
    "data",
)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event. Immutable: a consumer sees exactly what the producer validated and sent."""

    event_id: str
    event_type: str
    version: int
    occurred_at: str
    producer: str
    correlation_id: str
    data: dict[str, Any] = field(default_factory=dict)
    # The W3C trace context the message carries in its headers or stream fields, beside the
    # body: not part of the event (not in `to_dict`, not compared). Set by the outbox relay.
    trace: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def new(
        cls,
        event_type: str,
        data: dict[str, Any],
        *,
        version: int = 1,
        correlation_id: str | None = None,
        producer: str | None = None,
        event_id: str | uuid.UUID | None = None,
        occurred_at: str | None = None,
    ) -> Envelope:
        """A new event; the correlation id defaults to the current request id (or a new one)."""
        return cls(
            event_id=str(event_id or uuid.uuid4()),
            event_type=event_type,
            version=version,
            occurred_at=occurred_at or _now_iso(),
            producer=producer or str(ms_settings.EVENT_BUS["PRODUCER"]),
            correlation_id=correlation_id or request_id_for_call(),
            data=data,
        )

    @classmethod
    def from_dict(cls, payload: Any) -> Envelope:
        """Build from a decoded JSON object; the shape is checked, the contract is not."""
        if not isinstance(payload, dict):
            raise EventContractViolation("event is not a JSON object")
        missing = [name for name in ENVELOPE_FIELDS if name not in payload]
        if missing:
            raise EventContractViolation(f"event lacks envelope fields: {', '.join(missing)}")
        return cls(**{name: payload[name] for name in ENVELOPE_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "data": self.data,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def log_context(self) -> dict[str, str]:
        """`extra=` for log calls, so every line about an event names it and its cause."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "correlation_id": self.correlation_id,
        }
