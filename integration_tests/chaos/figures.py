"""What a chaos run measures: its faults on a timeline, then figures read from the saga rows,
their step logs and the stubs' own request logs, printed and written to reports/chaos/.

Times are the stubs' receive times and the workers' database timestamps, one clock (one
machine). They are reported, never asserted on.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django_interlink.models import SagaExecution, SagaStepLog
from mock_services.testing import StubServer

REPORTS = Path(__file__).resolve().parent.parent.parent / "reports" / "chaos"


@dataclass
class Fault:
    kind: str  # "stub stopped", "registry empty", "database restarted"
    target: str
    started: float  # time.time()
    ended: float | None = None

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started


@dataclass
class Timeline:
    faults: list[Fault] = field(default_factory=list)

    @contextmanager
    def fault(self, kind: str, target: str) -> Iterator[Fault]:
        """Times the block as a fault: from before it is injected to after it has cleared."""
        fault = Fault(kind, target, time.time())
        self.faults.append(fault)
        try:
            yield fault
        finally:
            fault.ended = time.time()


def _spread(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"sagas": 0}
    return {
        "sagas": len(seconds),
        "min_s": round(min(seconds), 2),
        "median_s": round(statistics.median(seconds), 2),
        "max_s": round(max(seconds), 2),
    }


def first_answered(stub: StubServer, suffix: str) -> dict[str, float]:
    """saga_id -> when `stub` received the saga's first POST to a path ending in `suffix` that
    it answered with success (the saga is the first part of the Idempotency-Key)."""
    first: dict[str, float] = {}
    for r in stub.requests(method="POST"):
        key = r["idempotency_key"] or ""
        if r["path"].endswith(suffix) and 200 <= (r["status"] or 0) < 300 and ":" in key:
            saga_id = key.split(":", 1)[0]
            first[saga_id] = min(first.get(saga_id, r["received_at"]), r["received_at"])
    return first


def releases(inventory: StubServer) -> dict[str, float]:
    """saga_id -> when the inventory stub received the saga's first answered release."""
    return first_answered(inventory, "/release")


def measure(timeline: Timeline, stubs: dict[str, StubServer], **extra: Any) -> dict[str, Any]:
    """The run's figures: sagas by status, faults, waits, and for each fault how long the stock
    of the sagas it made undo stayed held (from the fault's start or their reservation, to the
    inventory stub receiving the release), when the refunds that waited came, and how long
    after it cleared the sagas begun before then took to end."""
    executions = list(SagaExecution.objects.all())
    waited = [e for e in executions if e.waits]
    refund_waited = set(
        SagaStepLog.objects.filter(
            step_name="process_payment", direction="compensation", status="failed"
        ).values_list("execution__saga_id", flat=True)
    )
    released = releases(stubs["inventory"])
    refunded = first_answered(stubs["payments"], "/refund")
    figures: dict[str, Any] = {
        "sagas": len(executions),
        "by_status": dict(sorted(Counter(e.status for e in executions).items())),
        "waits": {"total": sum(e.waits for e in waited), "sagas_that_waited": len(waited)},
        # attempts a worker began and never closed: its run was cut short, another resumed it
        "attempts_cut_short": SagaStepLog.objects.filter(finished_at__isnull=True).count(),
        "faults": [],
        **extra,
    }
    reserved = first_answered(stubs["inventory"], "/reservations")
    for fault in timeline.faults:
        assert fault.ended is not None
        # How long each saga released since the fault began held stock during it: from the
        # fault's start, or from the saga's first reservation if that came later.
        held = {
            s: t - max(fault.started, reserved[s])
            for s, t in released.items()
            if t >= fault.started
        }
        holding = [s for s in held if reserved[s] < fault.started]
        begun = [e for e in executions if e.created_at.timestamp() <= fault.ended]
        last = max(
            (e.completed_at.timestamp() for e in begun if e.completed_at), default=fault.ended
        )
        figures["faults"].append(
            {
                **asdict(fault),
                "seconds": round(fault.seconds, 2),
                "stock_held": _spread(list(held.values())),
                "stock_held_of_sagas_holding_stock_at_its_start": _spread(
                    [held[s] for s in holding]
                ),
                "stock_held_while_the_refund_waited": _spread(
                    [held[s] for s in held if s in refund_waited]
                ),
                # the refunds that waited: from the fault's end to payments receiving them
                "refund_after_fault_cleared": _spread(
                    [refunded[s] - fault.ended for s in refund_waited if s in refunded]
                ),
                "sagas_released_during_the_fault": sum(
                    fault.started <= t <= fault.ended for t in released.values()
                ),
                "finished_after_fault_cleared_s": round(max(last - fault.ended, 0.0), 2),
            }
        )
    return figures


def report(name: str, figures: dict[str, Any]) -> Path:
    """Print the figures (pytest -s) and write them to reports/chaos/<name>.json."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.json"
    text = json.dumps(figures, indent=2, default=str)
    path.write_text(text + "\n")
    print(f"\n--- chaos figures: {name} ({path}) ---\n{text}")
    return path
