"""What the page polls, as plain dicts: one saga and its steps, its events, the worker, the
dead letters of the in-memory bus.

The steps come from the saga's step log and are drawn with the admin's own SVG timeline; the
events are followed from the outbox (rows with the saga's correlation id) over the bus (what this
process's in-memory bus carried) into the inbox (one row per handler that processed each).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.urls import reverse

from django_interlink.events.backends import get_bus
from django_interlink.events.dead_letter_service import dead_letter_box, dead_letters_list
from django_interlink.events.handlers import load_registry
from django_interlink.events.memory import MemoryBus
from django_interlink.models import InboxEvent, OutboxEvent, SagaExecution
from django_interlink.models.sagas import StepDirection
from django_interlink.sagas.selectors import position, saga_attempts
from django_interlink.sagas.timeline import timeline_svg

from . import explain
from .files import KILL_AFTER_CHARGE, WORKERS, read_json

RECENT = 8


def saga_feed(execution: SagaExecution, workers: Mapping[str, Any]) -> dict[str, Any]:
    """The saga, its attempts (each with its worker, alive or not), its lease and the timeline.

    `workers` is the supervisor's account (worker_feed): a lease whose worker it saw die is not
    "running" though it has not lapsed, and its attempt is drawn hatched."""
    logs = list(execution.step_logs.order_by("started_at", "id"))
    lease = explain.lease_feed(execution, workers)
    owner_dead = lease["state"] == "dead-owner"
    # One reading of each attempt, shared with the drawing: running, interrupted or its status.
    read = saga_attempts(execution, logs, owner_dead=owner_dead)
    steps = []
    for attempt in read:
        log = attempt.log
        undo = log.direction == StepDirection.COMPENSATION
        steps.append(
            {
                "index": log.step_index,
                "name": log.step_name,
                "direction": str(log.direction),
                "attempt": log.attempt,
                "outcome": attempt.state,
                "duration_ms": log.duration_ms,
                "error": log.error,
                "worker": explain.worker_of(log.worker, workers),
                "note": explain.undo_note(execution, log.step_name) if undo else attempt.note,
            }
        )
    forward: list[str] = []
    undone: list[str] = []
    for log in logs:
        names = undone if log.direction == StepDirection.COMPENSATION else forward
        if log.step_name not in names:
            names.append(log.step_name)
    context = execution.context_data
    return {
        "saga_id": execution.saga_id,
        "status": str(execution.status),
        "finished": execution.is_terminal,
        "position": position(execution),
        "error": execution.error_message,
        "steps": steps,
        "forward": forward,
        "compensations": [
            {"name": name, "note": explain.undo_note(execution, name)} for name in undone
        ],
        "lease": lease,
        "timeline": str(
            timeline_svg(logs, lease_expires_at=execution.live_lease, owner_dead=owner_dead)
        ),
        "admin_url": reverse("admin:interlink_sagaexecution_change", args=[execution.pk]),
        "card": context.get("card_token"),
        "total_amount": context.get("total_amount"),
        "order_id": context.get("order_id"),
        "payment_id": context.get("payment", {}).get("id"),
    }


def events_feed(saga_id: str) -> list[dict[str, Any]]:
    rows = list(OutboxEvent.objects.filter(correlation_id=saga_id).order_by("id"))
    bus = get_bus("memory")
    carried = (
        {str(envelope.event_id) for envelope in bus.published}
        if isinstance(bus, MemoryBus)
        else set()
    )
    processed: dict[str, set[str]] = {}
    inbox = InboxEvent.objects.filter(event_id__in=[row.event_id for row in rows])
    for seen, handler in inbox.values_list("event_id", "handler"):
        processed.setdefault(str(seen), set()).add(handler)
    registry = load_registry()
    events = []
    for row in rows:
        event_id = str(row.event_id)
        done = processed.get(event_id, set())
        names = [h.name for h in registry.handlers_for(row.event_type)]
        events.append(
            {
                "event_id": event_id,
                "event_type": row.event_type,
                "outbox": str(row.status),
                "on_bus": event_id in carried,
                "handlers": [{"name": n, "done": n in done} for n in names],
            }
        )
    return events


def recent_sagas() -> list[dict[str, Any]]:
    return [
        {"saga_id": saga_id, "status": status}
        for saga_id, status in SagaExecution.objects.order_by("-created_at", "-pk").values_list(
            "saga_id", "status"
        )[:RECENT]
    ]


def dead_letters_feed() -> list[dict[str, Any]]:
    """The memory bus's dead letters of the consumer group, as `manage.py dead_letters list`."""
    with dead_letter_box(backend="memory") as box:
        return [letter.summary() for letter in dead_letters_list(box=box)]


def worker_feed(folder: Path) -> dict[str, Any]:
    """The supervisor's account of the workers, and whether the kill switch is armed."""
    state: dict[str, Any] = read_json(folder / WORKERS, {"pid": None, "started": 0, "exits": []})
    return {**state, "kill_armed": (folder / KILL_AFTER_CHARGE).exists()}
