"""The two retry layers of one saga, from its step log and the stubs' request logs.

Inner layer: one call of a step attempt may send several requests (the client's urllib3 retry,
RETRY TOTAL + 1 requests, under one Idempotency-Key). Outer layer: the saga tries the step
again (its RetryPolicy's attempts), each attempt making its calls afresh. The budget of each
layer comes from the settings and the saga's definition; what was spent comes from what the
stubs received.

A request belongs to the attempt that started last before the stub received it: a saga runs one
step attempt at a time, and the worker and the stubs read the same clock.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from django_interlink.clients.transport import requests_per_call
from django_interlink.conf import ms_settings
from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.models.sagas import StepDirection
from django_interlink.sagas.runner import retry_policy
from django_interlink.sagas.selectors import definition_of


def attempt_of(logs: Sequence[SagaStepLog], received_at: float) -> int | None:
    """The index in `logs` (ordered by start) of the attempt that made a request received at
    `received_at` (seconds since the epoch); None for one sent before the saga's first step."""
    starts = [log.started_at.timestamp() for log in logs]
    index = bisect_right(starts, received_at) - 1
    return index if index >= 0 else None


def _requests_per_call(service: str) -> int:
    return requests_per_call(ms_settings.service(service)["RETRY"])


def _budget(execution: SagaExecution, log: SagaStepLog) -> int | None:
    definition = definition_of(execution.saga_type)
    if definition is None or not 0 <= log.step_index < len(definition):
        return None
    step = definition.steps[log.step_index]
    return retry_policy(step, log.direction == StepDirection.COMPENSATION).attempts


def retry_layers(
    execution: SagaExecution, logs: Sequence[SagaStepLog], calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per step and direction that ran: its budgets (5 attempts of 4 requests) and
    each attempt with the requests it sent. Marks each call with its attempt (`attempt`)."""
    per_attempt: list[list[dict[str, Any]]] = [[] for _ in logs]
    for call in calls:
        index = attempt_of(logs, float(call["received_at"]))
        call["attempt"] = None
        if index is not None:
            log = logs[index]
            kind = "undo" if log.direction == StepDirection.COMPENSATION else "do"
            call["attempt"] = f"{log.step_name} · {kind} #{log.attempt}"
            per_attempt[index].append(call)
    layers: dict[tuple[str, str], dict[str, Any]] = {}
    for log, sent in zip(logs, per_attempt, strict=True):
        layer = layers.get((log.step_name, log.direction))
        if layer is None:
            layer = {
                "step": log.step_name,
                "direction": str(log.direction),
                "attempts_allowed": _budget(execution, log),
                "requests_per_call": None,
                "attempts": [],
            }
            layers[(log.step_name, log.direction)] = layer
        services = {call["service"] for call in sent}
        if services:
            budget = max(_requests_per_call(service) for service in services)
            layer["requests_per_call"] = max(layer["requests_per_call"] or 0, budget)
        layer["attempts"].append(
            {
                "attempt": log.attempt,
                "status": str(log.status),
                "finished": log.finished_at is not None,
                "calls": len({call["key"] for call in sent}),
                "requests": [
                    {
                        "service": call["service"],
                        "method": call["method"],
                        "path": call["path"],
                        "key": call["key"],
                        "status": call.get("status"),
                    }
                    for call in sent
                ],
            }
        )
    return list(layers.values())
