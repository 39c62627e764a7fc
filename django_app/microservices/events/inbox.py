"""The inbox: a handler's effect and the record that it ran commit in one transaction.

A redelivered event finds its (event_id, handler) row and is skipped; two consumers racing on
the same event serialise on the unique index, and the loser sees the winner's row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from ..models import InboxEvent
from .envelope import Envelope

if TYPE_CHECKING:
    from .consumer import RegisteredHandler


def inbox_seen(*, event_id: str, handler_name: str) -> bool:
    return InboxEvent.objects.filter(event_id=event_id, handler=handler_name).exists()


@transaction.atomic
def inbox_run(*, envelope: Envelope, handler: RegisteredHandler) -> bool:
    """Run `handler` on `envelope` unless it already ran; True if it ran now.

    The handler's database writes share this transaction: if it raises, neither its effect nor
    the inbox row is kept, and the event can be retried.
    """
    if inbox_seen(event_id=envelope.event_id, handler_name=handler.name):
        return False
    try:
        # The row goes in first: a concurrent consumer of the same event blocks here on the
        # unique index until we commit, then fails, instead of running the handler twice.
        with transaction.atomic():
            InboxEvent.objects.create(
                event_id=envelope.event_id,
                handler=handler.name,
                event_type=envelope.event_type,
                correlation_id=envelope.correlation_id[:128],
            )
    except IntegrityError:
        return False
    handler.func(envelope)
    return True
