"""When a recorded call was a replay: the one rule the report, the docs' recorded scenes and the
playground's calls table all use.

A call is a replay when the stub says it answered from its idempotency store (the stubs send
`Idempotent-Replayed: true` and their request log keeps it as `replayed`) and an earlier call
to the same service carried the same Idempotency-Key: that earlier call is the one it replays.
A retry with the same key that the stub ran again (its first answer was a 5xx, not stored) is
not a replay, and neither is a call the stub marked with no earlier call to point at (the
recording began after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyedCall:
    """What the rule needs of a call: where it went, its key, and what the stub said."""

    service: str
    idempotency_key: str | None
    replayed: bool


def replay_of(calls: Sequence[KeyedCall]) -> list[int | None]:
    """For each call (in the order received), the index of the earlier call it replays, or None."""
    first: dict[tuple[str, str], int] = {}
    found: list[int | None] = []
    for index, call in enumerate(calls):
        if call.idempotency_key is None:
            found.append(None)
            continue
        key = (call.service, call.idempotency_key)
        found.append(first[key] if call.replayed and key in first else None)
        first.setdefault(key, index)
    return found


def replay_note(original_t_ms: float) -> str:
    """How a replay is marked, naming when the call it replays was received."""
    return (
        f"replayed: same Idempotency-Key as +{original_t_ms:.0f} ms, answered from the stub's"
        " idempotency store"
    )
