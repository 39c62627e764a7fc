"""One purge of everything past its retention, and a schedule that runs it from a loop."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, close_old_connections

from ..api.idempotency import idempotency_purge_expired
from ..api.ratelimit import rate_limit_purge
from ..conf import ms_settings
from ..events.bus import EventBus
from ..events.inbox import inbox_purge
from ..events.outbox import outbox_purge_sent
from ..events.retention import bus_trim
from ..exceptions import BusUnavailable
from ..sagas.retention import saga_purge_finished

__all__ = ["RetentionSchedule", "retention_purge"]

logger = logging.getLogger("django_interlink.retention")


def _seconds(key: str) -> timedelta:
    return timedelta(seconds=float(ms_settings.RETENTION[key]))


def retention_purge(*, bus: EventBus | None = None) -> dict[str, int]:
    """Delete what is past its retention, and trim `bus`'s streams (Redis Streams only);
    returns how many rows or entries went, by kind."""
    batch = int(ms_settings.RETENTION["BATCH_SIZE"])
    counts = {
        "outbox_sent": outbox_purge_sent(older_than=_seconds("OUTBOX_SENT"), batch_size=batch),
        "inbox": inbox_purge(older_than=_seconds("INBOX"), batch_size=batch),
        "idempotency_keys": idempotency_purge_expired(batch_size=batch),
        "rate_limit_windows": rate_limit_purge(batch_size=batch),
        "sagas": saga_purge_finished(older_than=_seconds("SAGAS"), batch_size=batch),
    }
    if bus is not None:
        trimmed = bus_trim(
            bus, dead_letter_maxlen=int(ms_settings.RETENTION["REDIS_DEAD_LETTER_MAXLEN"])
        )
        if trimmed is not None:
            counts["stream_entries"] = trimmed.entries
            counts["dead_letters"] = trimmed.dead_letters
    if any(counts.values()):
        logger.info(
            "retention purge: %s", ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)
        )
    return counts


class RetentionSchedule:
    """`run_if_due()` purges at most once every RETENTION['INTERVAL'] seconds (the first call
    purges at once); a failure is logged and tried again at the next interval, so a loop that
    calls it is never stopped by it."""

    def __init__(self, *, bus: EventBus | None = None) -> None:
        self.bus = bus
        self.next_due = 0.0

    def run_if_due(self) -> dict[str, int] | None:
        interval = float(ms_settings.RETENTION["INTERVAL"])
        now = time.monotonic()
        if interval <= 0 or now < self.next_due:
            return None
        self.next_due = now + interval
        try:
            return retention_purge(bus=self.bus)
        except (DatabaseError, BusUnavailable) as exc:
            logger.warning("retention purge failed (%s); next try in %.0fs", exc, interval)
            close_old_connections()  # a broken connection is replaced on the next query
            return None
