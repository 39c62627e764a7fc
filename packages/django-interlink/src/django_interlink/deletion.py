"""Deleting many rows in small batches, so a large purge never holds long locks or one huge
transaction (each batch commits on its own in autocommit mode)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet[Any], *, batch_size: int) -> int:
    """Delete every row of `queryset`, `batch_size` primary keys at a time; how many went."""
    model = queryset.model
    deleted = 0
    while True:
        pks = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        _, per_model = model._default_manager.filter(pk__in=pks).delete()
        # Cascaded rows (a saga's step logs) are counted by delete() too: count ours only.
        deleted += per_model.get(model._meta.label, 0)
