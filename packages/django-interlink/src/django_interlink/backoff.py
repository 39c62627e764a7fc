"""The one exponential backoff: `base * 2 ** (attempt - 1)` seconds, capped.

Saga retries, consumer redeliveries, outbox refusals and broker reconnects all wait this way;
only their base and cap differ, and those are settings or named constants where they are used.
"""

from __future__ import annotations


def exponential_backoff(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based; 0 or less counts as 1)."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))
