"""What the page says beside the raw state: who holds a saga's lease and whether that worker is
alive, and why an undo made no call.

Whether a worker is alive is the supervisor's knowledge (workers.json: the live pid, every
exit), which the database does not have: there a dead worker's lease looks live until it lapses.
The lease rule itself is the model's (`SagaExecution.live_lease`, `.lease_lapsed`), read as the
admin reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from django_interlink.models import SagaExecution
from django_interlink.models.sagas import ACTIVE_STATUSES
from django_interlink.sagas.outcomes import ABSENT
from django_interlink.sagas.services import worker_pid

# Where shop/order_steps.py records each step's call outcomes in the saga's context: one
# record ({"state": ...}), or one per item ({"0": {"state": ...}, ...}).
CALL_RECORDS = {
    "reserve_inventory": "reservations",
    "process_payment": "payment",
    "create_order": "order",
}
NOTHING_TO_UNDO = (
    "made no call: the action's outcome is ABSENT (the service did nothing, or refused "
    "for good), so there is nothing to undo"
)


def worker_alive(owner: str, workers: Mapping[str, Any]) -> bool | None:
    """Whether the worker named `owner` (a lease owner, a step log's worker) is running: True
    for the supervisor's live worker, False for one it saw exit, None when it never knew it."""
    pid = worker_pid(owner)
    if pid is None:
        return None
    if pid == workers.get("pid"):
        return True
    if any(pid == gone.get("pid") for gone in workers.get("exits", [])):
        return False
    return None


def worker_of(owner: str, workers: Mapping[str, Any]) -> dict[str, Any]:
    """A step log's or lease's worker as the page shows it: its pid and whether it is alive."""
    return {"owner": owner, "pid": worker_pid(owner), "alive": worker_alive(owner, workers)}


def lease_feed(execution: SagaExecution, workers: Mapping[str, Any]) -> dict[str, Any]:
    """Who holds the saga, whether that worker is alive, when the lease lapses, and what the
    page should say about it in one sentence."""
    now = timezone.now()
    active = execution.status in ACTIVE_STATUSES
    expires = execution.live_lease
    held = bool(execution.lease_owner) and expires is not None
    worker = worker_of(execution.lease_owner, workers) if held else None
    lapsed = execution.lease_lapsed(now)
    lapses_in = (expires - now).total_seconds() if expires is not None else None
    if not active:
        state, text = "released", "released: the saga has ended, no worker holds it"
    elif not held:
        state, text = "free", "free: waiting for a worker to claim the saga"
    elif lapsed:
        state, text = "lapsed", "lapsed: the next worker to look claims the saga and resumes it"
    elif worker is not None and worker["alive"] is False:
        state = "dead-owner"
        text = (
            "held by a dead worker: nobody runs the saga; once the lease lapses the next worker "
            "resumes it"
        )
    else:
        state, text = "held", "held: a live worker runs the saga and renews the lease"
    return {
        "state": state,
        "text": text,
        "worker": worker,
        "expires_at": expires.timestamp() if expires is not None else None,
        "lapses_in_s": lapses_in,
    }


def undo_note(execution: SagaExecution, step_name: str) -> str:
    """Why an undo of `step_name` made no call ("" when it had something to undo)."""
    key = CALL_RECORDS.get(step_name)
    record = execution.context_data.get(key) if key else None
    if not isinstance(record, dict) or not record:
        return ""
    records = [record] if "state" in record else [r for r in record.values() if isinstance(r, dict)]
    if records and all(r.get("state") == ABSENT for r in records):
        return NOTHING_TO_UNDO
    return ""
