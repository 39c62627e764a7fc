"""The raw clients' inbox for bench_consume.py: our inbox table, written with psycopg alone.

What our consumer's inbox is measured against: the same rows, the same conflict rule, one
statement an event or one a window, and nothing else (no ORM, no savepoints).
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

EVENT_TYPE = "order.created"
HANDLER = "bench.noop"


class Inbox:
    """The raw clients' inbox: our table, written with psycopg and nothing else."""

    def __init__(self, url: str, table: str) -> None:
        self.conn = psycopg.connect(url)
        columns = "(event_id, handler, event_type, correlation_id, processed_at)"
        self.one = (
            f"INSERT INTO {table} {columns} VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING id"
        )
        self.many = (
            f"INSERT INTO {table} {columns} SELECT * FROM unnest("  # noqa: S608
            "%s::uuid[], %s::varchar[], %s::varchar[], %s::varchar[], %s::timestamptz[]) "
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING id"
        )

    def record(self, event_id: str, correlation_id: str) -> bool:
        """One event in its own transaction; True if it was new."""
        row = self.conn.execute(
            self.one, (event_id, HANDLER, EVENT_TYPE, correlation_id, datetime.now(UTC))
        ).fetchone()
        self.conn.commit()
        return row is not None

    def record_window(self, events: list[tuple[str, str]]) -> int:
        """A window of (event_id, correlation_id) in one transaction; how many were new."""
        now = datetime.now(UTC)
        params = (
            [e for e, _ in events],
            [HANDLER] * len(events),
            [EVENT_TYPE] * len(events),
            [c for _, c in events],
            [now] * len(events),
        )
        new = len(self.conn.execute(self.many, params).fetchall())
        self.conn.commit()
        return new

    def close(self) -> None:
        self.conn.close()
