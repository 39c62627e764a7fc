"""The inbox: a handler's effect and the record that it ran commit in one transaction.

A redelivered event finds its (event_id, handler) row and is skipped; two consumers racing on
the same event serialise on the unique index, and the loser sees the winner's row. A handler's
`prepare` step (its reads from other services) runs before that transaction, so the row lock is
held for the writes only, never across an HTTP call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import InboxEvent
from .envelope import Envelope
from .handlers import RegisteredHandler


def inbox_seen(*, event_id: str, handler_name: str) -> bool:
    return InboxEvent.objects.filter(event_id=event_id, handler=handler_name).exists()


def _claim(envelope: Envelope, handler_name: str) -> bool:
    """Insert the (event_id, handler) row; False if it exists (the event was handled).

    A concurrent consumer of the same event blocks here on the unique index until the first
    commits, then finds the row, instead of running the handler twice.
    """
    values = {
        "event_id": envelope.event_id,
        "handler": handler_name,
        "event_type": envelope.event_type,
        "correlation_id": envelope.correlation_id[:128],
    }
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # One statement instead of a lookup plus an insert in a savepoint: the inbox is on
        # every message's path, and round trips dominate its cost.
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(InboxEvent._meta.db_table)} "  # noqa: S608 - names only
                "(event_id, handler, event_type, correlation_id, processed_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id, handler) DO NOTHING "
                "RETURNING id",
                [*values.values(), timezone.now()],
            )
            return cursor.fetchone() is not None
    if inbox_seen(event_id=envelope.event_id, handler_name=handler_name):
        return False
    try:
        with transaction.atomic():
            InboxEvent.objects.create(**values)
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


def inbox_purge(*, older_than: timedelta) -> int:
    """Forget handled events older than `older_than`.

    Keep them longer than any redelivery can take (broker retention, dead-letter replays):
    an event redelivered after its row is gone would be applied again.
    """
    cutoff = timezone.now() - older_than
    deleted, _ = InboxEvent.objects.filter(processed_at__lt=cutoff).delete()
    return deleted
