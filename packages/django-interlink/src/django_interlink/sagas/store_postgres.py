"""The store's writes as single PostgreSQL statements: a speed-up, not a second design.

Through the ORM a step's move is BEGIN, the lease-guarded UPDATE of the execution, the UPDATE
closing one log row, the INSERT opening the next, the step's event into the outbox, COMMIT: up
to six round trips on the path of every step. Data-modifying CTEs make it one statement, atomic
on its own, each part conditional on the lease-guarded UPDATE having matched, so a lost lease
writes nothing; a new saga's row goes in the same way, with its first attempt. The ORM path
stays for the other backends; `bench/bench_saga.py` measures what the statement saves.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from ..models.events import OutboxEvent
from ..models.sagas import SagaExecution, SagaStepLog

__all__ = ["create_in_one_statement", "move_in_one_statement"]

_INSERT_COLUMNS = (
    "step_index",
    "step_name",
    "direction",
    "attempt",
    "status",
    "idempotency_key",
    "worker",
    "started_at",
    "error",
)


def move_in_one_statement(
    execution: SagaExecution,
    owner: str,
    fields: dict[str, Any],
    *,
    close_id: int | None,
    close_status: str,
    close_error: str,
    open_log: SagaStepLog | None,
    now: datetime,
    outbox: OutboxEvent | None = None,
) -> tuple[int, int | None]:
    """Update `fields` of the execution if `owner` holds its lease, close log row `close_id`,
    insert `open_log` and the `outbox` row (a duplicate event id inserts nothing); returns
    (executions updated: 1, or 0 when the lease was lost, the inserted log row's id). The
    caller checks the count: nothing else is written when it is 0."""
    ex_meta, log_meta = SagaExecution._meta, SagaStepLog._meta
    sets: list[str] = []
    params: list[Any] = []
    for name, value in fields.items():
        model_field = ex_meta.get_field(name)
        column = model_field.column  # type: ignore[union-attr]
        if isinstance(model_field, models.JSONField):
            sets.append(f'"{column}" = %s::jsonb')
            params.append(json.dumps(value, cls=DjangoJSONEncoder))
        else:
            sets.append(f'"{column}" = %s')
            params.append(value)
    params += [execution.pk, owner]
    params += [close_status, close_error, now, close_id]
    if open_log is not None:
        params += [getattr(open_log, c) for c in _INSERT_COLUMNS[:-1]] + ["", True]
    else:
        # Placeholders for the INSERT's parameters; the final False makes it insert nothing.
        params += [0, "", "", 0, "", "", "", now, "", False]
    outboxed = ""
    if outbox is not None:
        outbox_columns, values = _outbox_values(outbox)
        outboxed = f"""
        , outboxed AS (
            INSERT INTO "{OutboxEvent._meta.db_table}" ({outbox_columns})
            SELECT {", ".join(["%s"] * len(values))} FROM ex
            ON CONFLICT ("event_id") DO NOTHING
        )"""  # noqa: S608  (as below)
        params += values
    log_table = log_meta.db_table
    columns = ", ".join(f'"{c}"' for c in _INSERT_COLUMNS)
    sql = f"""
        WITH ex AS (
            UPDATE "{ex_meta.db_table}" SET {", ".join(sets)}
            WHERE "id" = %s AND "lease_owner" = %s RETURNING "id"
        ), closed AS (
            UPDATE "{log_table}" SET "status" = %s, "error" = %s, "finished_at" = %s
            WHERE "id" = %s AND EXISTS (SELECT 1 FROM ex)
        ), opened AS (
            INSERT INTO "{log_table}" ("execution_id", {columns})
            SELECT ex."id", %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ex WHERE %s
            RETURNING "id"
        ){outboxed}
        SELECT (SELECT count(*) FROM ex), (SELECT "id" FROM opened)
    """  # noqa: S608  (identifiers come from model metadata, values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return 0, None
    return int(row[0]), row[1]


def create_in_one_statement(
    execution: SagaExecution, open_log: SagaStepLog
) -> tuple[int | None, int | None]:
    """Insert the new `execution` with its first attempt's log row `open_log`, one statement;
    returns (the execution's id, the log row's id), (None, None) if the saga_id exists
    (nothing written)."""
    ex_columns, ex_values = _insert_values(execution)
    log_table = SagaStepLog._meta.db_table
    columns = ", ".join(f'"{c}"' for c in _INSERT_COLUMNS)
    sql = f"""
        WITH ex AS (
            INSERT INTO "{SagaExecution._meta.db_table}" ({ex_columns})
            VALUES ({", ".join(["%s"] * len(ex_values))})
            ON CONFLICT ("saga_id") DO NOTHING RETURNING "id"
        ), opened AS (
            INSERT INTO "{log_table}" ("execution_id", {columns})
            SELECT ex."id", {", ".join(["%s"] * len(_INSERT_COLUMNS))} FROM ex
            RETURNING "id"
        )
        SELECT (SELECT "id" FROM ex), (SELECT "id" FROM opened)
    """  # noqa: S608  (identifiers come from model metadata, values are parameters)
    params = [*ex_values, *(getattr(open_log, c) for c in _INSERT_COLUMNS[:-1]), ""]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None, None
    return int(row[0]), row[1]


def _outbox_values(row: OutboxEvent) -> tuple[str, list[Any]]:
    return _insert_values(row)


def _insert_values(row: OutboxEvent | SagaExecution) -> tuple[str, list[Any]]:
    """The columns and values an ORM insert of `row` would write (NULLs left to the column)."""
    columns, values = [], []
    for f in type(row)._meta.concrete_fields:
        if f.primary_key:
            continue
        value = f.get_db_prep_save(f.pre_save(row, add=True), connection)
        if value is not None:
            columns.append(f'"{f.column}"')
            values.append(value)
    return ", ".join(columns), values
