"""An order-processing saga as the API shows it (contracts/shop.yaml, OrderRequest).

The saga's statuses are the engine's; the API's are what a customer needs: a compensated saga
and one that failed with nothing to undo are both "failed", with a problem saying why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django_interlink.api.problems import problem
from django_interlink.models import (
    SagaExecution,
    SagaStatus,
    SagaStepLog,
    StepDirection,
    StepLogStatus,
)
from django_interlink.sagas.waiting import waiting_for

__all__ = ["API_STATUSES", "order_request_body", "saga_statuses"]

API_STATUSES: dict[str, str] = {
    SagaStatus.PENDING: "pending",
    SagaStatus.RUNNING: "running",
    SagaStatus.COMPLETED: "completed",
    SagaStatus.COMPENSATING: "compensating",
    SagaStatus.FAILED: "failed",
    SagaStatus.COMPENSATED: "failed",
    SagaStatus.NEEDS_ATTENTION: "needs_attention",
}
DIRECTIONS = {StepDirection.ACTION: "forward", StepDirection.COMPENSATION: "compensate"}
GENERIC_FAILURE = "A service the order needs kept failing; everything done so far was undone."
STUCK = (
    "The order failed and undoing it did not finish; nothing more happens until an operator "
    "retries the undo."
)


def saga_statuses(api_status: str) -> list[str]:
    """The saga statuses an API status stands for (for ?status=)."""
    return [saga for saga, shown in API_STATUSES.items() if shown == api_status]


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _step(log: SagaStepLog) -> dict[str, Any]:
    return {
        "name": log.step_name,
        "direction": DIRECTIONS[StepDirection(log.direction)],
        "outcome": str(log.status),
        "attempt": log.attempt,
        "started_at": _timestamp(log.started_at),
        "finished_at": _timestamp(log.finished_at),
        "duration_ms": log.duration_ms,
    }


def _problem(execution: SagaExecution, logs: list[SagaStepLog], path: str) -> dict[str, Any] | None:
    shown = API_STATUSES[SagaStatus(execution.status)]
    if shown == "needs_attention":
        return problem(
            500, "order-needs-attention", STUCK, title="Order needs attention", instance=path
        )
    if shown != "failed":
        return None
    # A rejection says what the customer can act on (no stock, card declined); any other error
    # may name internal services, so it stays in the admin.
    rejected = [
        log
        for log in logs
        if log.direction == StepDirection.ACTION and log.status == StepLogStatus.REJECTED
    ]
    detail = rejected[-1].error if rejected and rejected[-1].error else GENERIC_FAILURE
    return problem(422, "order-failed", detail, title="Order failed", instance=path)


def _ids(context: dict[str, Any]) -> dict[str, Any]:
    order_id = context.get("order_id") or context.get("order", {}).get("id")
    payment_id = context.get("payment", {}).get("id")
    reservations: dict[str, Any] = context.get("reservations", {})
    reservation_ids = [
        str(reservations[index]["id"])
        for index in sorted(reservations, key=int)
        if reservations[index].get("id")
    ]
    return {
        "order_id": str(order_id) if order_id else None,
        "payment_id": str(payment_id) if payment_id else None,
        "reservation_ids": reservation_ids,
    }


def order_request_body(execution: SagaExecution, *, path: str) -> dict[str, Any]:
    """The OrderRequest of one saga (its step logs prefetched or fetched here)."""
    logs = sorted(execution.step_logs.all(), key=lambda log: (log.started_at, log.pk))
    return {
        "id": execution.saga_id,
        "status": API_STATUSES[SagaStatus(execution.status)],
        "created_at": _timestamp(execution.created_at),
        "updated_at": _timestamp(execution.updated_at),
        "steps": [_step(log) for log in logs],
        **_ids(execution.context_data),
        "problem": _problem(execution, logs, path),
        "waiting": _waiting(execution, logs),
    }


def _waiting(execution: SagaExecution, logs: list[SagaStepLog]) -> dict[str, Any] | None:
    """Which undo waits and when it is tried again; the reason stays in the admin (it may
    name internal services)."""
    wait = waiting_for(execution, logs)
    if wait is None:
        return None
    return {
        "step": wait.step,
        "direction": "compensate",
        "since": _timestamp(wait.since),
        "next_attempt_at": _timestamp(wait.next_attempt_at),
        "waits": wait.waits,
    }
