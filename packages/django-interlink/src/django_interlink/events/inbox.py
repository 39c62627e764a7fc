"""The inbox: a handler's effect and the record that it ran commit in one transaction.

A redelivered event finds its (event_id, handler) row and is skipped; two consumers racing on
the same event serialise on the unique index, and the loser sees the winner's row. A handler's
`prepare` step (its reads from other services) runs before that transaction, so the row lock is
held for the writes only, never across an HTTP call. A consume window claims the rows of all its
messages in one statement (`inbox_claim`), then applies the handlers whose rows were new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ..deletion import delete_in_batches
from ..models import InboxEvent
from .envelope import Envelope
from .handlers import RegisteredHandler

# An inbox row's identity: (event_id as str(UUID), handler name). Strings, not UUIDs: a window
# sorts and looks up its keys, and UUID objects compare in Python (measured: most of the
# claim's Python time).
ClaimKey = tuple[str, str]

# Databases that take INSERT ... ON CONFLICT DO NOTHING RETURNING (SQLite since 3.35).
ON_CONFLICT_VENDORS = frozenset({"postgresql", "sqlite"})
# Rows per INSERT ... VALUES: within SQLite's 32,766 parameters (5 a row).
CLAIM_CHUNK = 1000
COLUMNS = ("event_id", "handler", "event_type", "correlation_id", "processed_at")


def claim_key(envelope: Envelope, handler_name: str) -> ClaimKey:
    event_id = envelope.event_id
    # The contract's pattern is the hyphenated form, which only needs lower case to be canonical.
    canonical = event_id.lower() if len(event_id) == 36 else str(uuid.UUID(event_id))
    return canonical, handler_name


def inbox_seen(*, event_id: str, handler_name: str) -> bool:
    return InboxEvent.objects.filter(event_id=event_id, handler=handler_name).exists()


def inbox_seen_many(keys: Iterable[ClaimKey]) -> set[ClaimKey]:
    """Which of `keys` have their row already: one query for a whole window."""
    wanted = set(keys)
    if not wanted:
        return set()
    rows = InboxEvent.objects.filter(
        event_id__in={event_id for event_id, _ in wanted},
        handler__in={name for _, name in wanted},
    ).values_list("event_id", "handler")
    return {key for key in ((str(event_id), name) for event_id, name in rows) if key in wanted}


def inbox_claim(claims: Sequence[tuple[Envelope, str]]) -> set[ClaimKey]:
    """Insert the (event_id, handler) row of every claim in the caller's transaction, in one
    statement; the keys whose row is new (the others were handled before, or are claimed by a
    concurrent consumer, which this waits for on the unique index).

    A key given twice (one event delivered twice in a window) is new once. Rows are inserted in
    key order, so two windows sharing events take their row locks in the same order and never
    deadlock on the inbox.
    """
    unique = {claim_key(envelope, name): (envelope, name) for envelope, name in claims}
    if not unique:
        return set()
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("inbox_claim needs the caller's transaction.atomic()")
    if connection.vendor not in ON_CONFLICT_VENDORS:
        return {key for key, (envelope, name) in unique.items() if _claim_checked(envelope, name)}
    ordered = sorted(unique.items())
    if connection.vendor == "postgresql":
        return _claim_unnest(connection, ordered)
    return _claim_values(connection, ordered)


def _claim_unnest(
    connection: Any, ordered: list[tuple[ClaimKey, tuple[Envelope, str]]]
) -> set[ClaimKey]:
    """PostgreSQL: the rows as four text arrays, whatever the window's size (about half the
    time of a VALUES list of 5 parameters a row, measured: Django quotes each one in Python)."""
    quote = connection.ops.quote_name
    table, columns = quote(InboxEvent._meta.db_table), ", ".join(map(quote, COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names only
            "SELECT event_id::uuid, handler, event_type, correlation_id, %s "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
            "AS claim(event_id, handler, event_type, correlation_id) "
            "ON CONFLICT (event_id, handler) DO NOTHING RETURNING event_id, handler",
            [
                timezone.now(),
                [key[0] for key, _ in ordered],
                [key[1] for key, _ in ordered],
                [envelope.event_type for _, (envelope, _) in ordered],
                [envelope.correlation_id[:128] for _, (envelope, _) in ordered],
            ],
        )
        return {(str(event_id), name) for event_id, name in cursor.fetchall()}


def _claim_values(
    connection: Any, ordered: list[tuple[ClaimKey, tuple[Envelope, str]]]
) -> set[ClaimKey]:
    """Other databases with ON CONFLICT (SQLite): a VALUES list, in chunks within the
    parameter limit, each value as the field stores it (SQLite keeps a UUID as 32 hex digits)."""
    meta = InboxEvent._meta
    event_id_field, processed_at_field = meta.get_field("event_id"), meta.get_field("processed_at")
    now = processed_at_field.get_db_prep_value(timezone.now(), connection)
    rows = [
        (
            event_id_field.get_db_prep_value(key[0], connection),
            key[1],
            envelope.event_type,
            envelope.correlation_id[:128],
            now,
        )
        for key, (envelope, _) in ordered
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    claimed: set[ClaimKey] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CLAIM_CHUNK):
            chunk = rows[start : start + CLAIM_CHUNK]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - names only
                f"VALUES {placeholders} ON CONFLICT (event_id, handler) DO NOTHING "
                "RETURNING event_id, handler",
                [value for row in chunk for value in row],
            )
            claimed.update(
                (str(event_id_field.to_python(event_id)), name)
                for event_id, name in cursor.fetchall()
            )
    return claimed


def inbox_unclaim(keys: Iterable[ClaimKey]) -> None:
    """Delete rows this transaction claimed and will not apply (a window cut short by stopping):
    inserted and deleted before the commit, they never existed for anyone else."""
    condition = Q()
    for event_id, name in keys:  # a canonical string is a valid UUIDField lookup value
        condition |= Q(event_id=event_id, handler=name)
    if condition:
        InboxEvent.objects.filter(condition).delete()


def _claim(envelope: Envelope, handler_name: str) -> bool:
    """Insert the (event_id, handler) row; False if it exists (the event was handled).

    A concurrent consumer of the same event blocks here on the unique index until the first
    commits, then finds the row, instead of running the handler twice. One statement where the
    database has ON CONFLICT: the inbox is on every message's path, and round trips dominate
    its cost.
    """
    return bool(inbox_claim([(envelope, handler_name)]))


def _claim_checked(envelope: Envelope, handler_name: str) -> bool:
    """`_claim` on a database without ON CONFLICT: a lookup, then an insert in a savepoint."""
    if inbox_seen(event_id=envelope.event_id, handler_name=handler_name):
        return False
    try:
        with transaction.atomic():
            InboxEvent.objects.create(
                event_id=envelope.event_id,
                handler=handler_name,
                event_type=envelope.event_type,
                correlation_id=envelope.correlation_id[:128],
            )
    except IntegrityError:
        return False
    return True


def inbox_run(*, envelope: Envelope, handler: RegisteredHandler) -> bool:
    """Run `handler` on `envelope` unless it already ran; True if it ran now.

    Its `prepare` step runs first, outside any transaction, and not at all for an event already
    handled. The handler's database writes then share one transaction with the inbox row: if it
    raises, neither its effect nor the row is kept, and the event can be retried.
    """
    prepared: Any = None
    if handler.prepare is not None:
        if inbox_seen(event_id=envelope.event_id, handler_name=handler.name):
            return False
        prepared = handler.prepare(envelope)
    return inbox_apply(envelope=envelope, handler=handler, prepared=prepared)


def inbox_apply(*, envelope: Envelope, handler: RegisteredHandler, prepared: Any = None) -> bool:
    """The transactional part of `inbox_run`, given what `prepare` returned: claim the row and
    apply the handler atomically; True if it ran now."""
    with transaction.atomic():
        return inbox_apply_here(envelope=envelope, handler=handler, prepared=prepared)


def inbox_apply_here(
    *, envelope: Envelope, handler: RegisteredHandler, prepared: Any = None
) -> bool:
    """`inbox_apply` inside the caller's own transaction or savepoint (a consume window's, one
    per message): no savepoint of its own, so the caller must roll back if this raises."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("inbox_apply_here needs the caller's transaction.atomic()")
    if not _claim(envelope, handler.name):
        return False
    handler.apply(envelope, prepared)
    return True


def inbox_apply_claimed(
    *, envelope: Envelope, handler: RegisteredHandler, claimed: set[ClaimKey], prepared: Any = None
) -> bool:
    """`inbox_apply_here` for a row `inbox_claim` already inserted: apply the handler if its key
    is in `claimed`, and take the key out (a second delivery in the window is then skipped, and
    what is left in `claimed` belongs to messages not applied yet); True if it ran now."""
    key = claim_key(envelope, handler.name)
    if key not in claimed:
        return False
    claimed.discard(key)
    handler.apply(envelope, prepared)
    return True


def inbox_purge(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Forget handled events older than `older_than`.

    Keep them longer than any redelivery can take (retries, reclaims, dead-letter replays;
    check E091): an event redelivered after its row is gone would be applied again.
    """
    cutoff = timezone.now() - older_than
    old = InboxEvent.objects.filter(processed_at__lt=cutoff).order_by()
    return delete_in_batches(old, batch_size=batch_size)
