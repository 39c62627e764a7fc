"""Purging finished sagas: a saga that ended long ago, with its step logs, goes.

Only sagas that ended for good are purged: completed, failed (nothing to undo) and compensated.
A saga needing attention waits for a person however old it is, and an active or waiting one is
still somebody's work.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..deletion import delete_in_batches
from ..models import SagaExecution, SagaStatus

__all__ = ["PURGEABLE_STATUSES", "saga_purge_finished"]

PURGEABLE_STATUSES = (SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED)


def saga_purge_finished(*, older_than: timedelta, batch_size: int = 1000) -> int:
    """Delete sagas that finished more than `older_than` ago, and their step logs; how many."""
    cutoff = timezone.now() - older_than
    finished = SagaExecution.objects.filter(
        status__in=PURGEABLE_STATUSES, completed_at__lt=cutoff
    ).order_by()
    return delete_in_batches(finished, batch_size=batch_size)
