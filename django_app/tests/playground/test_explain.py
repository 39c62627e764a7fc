"""What the playground says beside the raw state: whose lease and whether that worker lives, why
an undo made no call, which step attempt sent each request, and each preset's check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.sagas.services import worker_id, worker_pid
from project.playground import explain, layers, presets

pytestmark = pytest.mark.django_db

WORKERS = {"pid": 41, "started": 2, "exits": [{"pid": 40, "signal": "SIGKILL"}]}


def test_worker_pid_reads_the_pid_worker_id_writes():
    """The lease owner's name carries the pid (host:pid:suffix); other names carry none."""
    assert worker_pid(worker_id()) is not None
    assert worker_pid("host-1:4242:ab12cd34") == 4242
    assert worker_pid("worker-a") is None
    assert worker_pid("h:x:y") is None


@pytest.mark.parametrize(
    ("owner", "alive"),
    [("h:41:aa", True), ("h:40:bb", False), ("h:39:cc", None), ("worker-a", None)],
)
def test_a_worker_is_alive_as_the_supervisor_knows_it(owner: str, alive: bool | None):
    assert explain.worker_alive(owner, WORKERS) is alive


def _saga(**fields: Any) -> SagaExecution:
    return SagaExecution.objects.create(saga_id="pg-x", saga_type="order_processing", **fields)


@pytest.mark.parametrize(
    ("owner", "seconds", "state"),
    [
        ("h:41:aa", 2, "held"),
        ("h:40:bb", 2, "dead-owner"),
        ("h:40:bb", -1, "lapsed"),
        ("h:39:cc", 2, "held"),  # not known dead: the database's word stands
    ],
)
def test_the_lease_says_whether_its_worker_runs_the_saga(owner: str, seconds: float, state: str):
    expires = timezone.now() + timedelta(seconds=seconds)
    saga = _saga(status="running", lease_owner=owner, lease_expires_at=expires)
    lease = explain.lease_feed(saga, WORKERS)
    assert lease["state"] == state
    assert lease["expires_at"] == expires.timestamp()
    assert lease["worker"]["pid"] == worker_pid(owner)


def test_a_finished_saga_holds_no_lease_and_a_pending_one_waits_for_a_worker():
    assert explain.lease_feed(_saga(status="completed"), WORKERS)["state"] == "released"
    pending = SagaExecution.objects.create(saga_id="pg-y", saga_type="order_processing")
    assert explain.lease_feed(pending, WORKERS)["state"] == "free"


@pytest.mark.parametrize(
    ("step", "context", "note"),
    [
        ("process_payment", {"payment": {"state": "absent"}}, explain.NOTHING_TO_UNDO),
        ("process_payment", {"payment": {"state": "applied", "id": "p1"}}, ""),
        ("process_payment", {"payment": {"state": "unknown"}}, ""),
        (
            "reserve_inventory",
            {"reservations": {"0": {"state": "absent"}, "1": {"state": "absent"}}},
            explain.NOTHING_TO_UNDO,
        ),
        (
            "reserve_inventory",
            {"reservations": {"0": {"state": "applied"}, "1": {"state": "absent"}}},
            "",
        ),
        ("create_order", {}, ""),
        ("send_confirmation", {"payment": {"state": "absent"}}, ""),
    ],
)
def test_an_undo_says_it_made_no_call_only_when_every_call_was_absent(
    step: str, context: dict[str, Any], note: str
):
    assert explain.undo_note(_saga(context_data=context), step) == note


def _log(saga: SagaExecution, name: str, direction: str, at: float) -> SagaStepLog:
    return SagaStepLog.objects.create(
        execution=saga,
        step_index=2,
        step_name=name,
        direction=direction,
        attempt=1,
        status="failed",
        started_at=saga.created_at + timedelta(seconds=at),
    )


def test_a_request_belongs_to_the_attempt_that_started_last_before_it_arrived():
    saga = _saga()
    logs = [_log(saga, "process_payment", "action", 1), _log(saga, "x", "compensation", 2)]
    t0 = saga.created_at.timestamp()
    assert layers.attempt_of(logs, t0 + 0.5) is None
    assert layers.attempt_of(logs, t0 + 1.0) == 0
    assert layers.attempt_of(logs, t0 + 1.9) == 0
    assert layers.attempt_of(logs, t0 + 2.5) == 1


FIGURES = presets.Figures(requests=4, attempts=5)


@pytest.mark.parametrize(
    ("slug", "seen", "met"),
    [
        ("503-twice", presets.Observed("completed", ["succeeded"], 3, 1, 1), True),
        # The 503s reached the saga: a second attempt was needed.
        ("503-twice", presets.Observed("completed", ["failed", "succeeded"], 3, 1, 1), False),
        ("503-forever", presets.Observed("compensated", ["failed"] * 5, 20, 1, 0), True),
        ("503-forever", presets.Observed("compensated", ["failed"] * 5, 5, 1, 0), False),
        ("lost-response", presets.Observed("completed", ["succeeded"], 2, 1, 1), True),
        ("lost-response", presets.Observed("completed", ["succeeded"], 2, 1, 2), False),
        (
            "kill-after-charge",
            presets.Observed("completed", ["interrupted", "succeeded"], 2, 1, 1),
            True,
        ),
        ("kill-after-charge", presets.Observed("completed", ["succeeded"], 1, 1, 1), False),
        ("declined-card", presets.Observed("compensated", ["rejected"], 1, 1, 0), True),
        ("declined-card", presets.Observed("failed", ["rejected"], 1, 1, 0), False),
    ],
)
def test_each_preset_checks_what_it_said_would_happen(slug: str, seen: presets.Observed, met: bool):
    assert presets.BY_SLUG[slug].check(seen, FIGURES) is met


def test_the_presets_figures_are_the_settings_and_the_saga_definition():
    assert presets.figures() == presets.Figures(requests=4, attempts=5)
    names = [p["name"] for p in presets.page_presets()]
    assert names == [
        "declined card",
        "503 \N{MULTIPLICATION SIGN}2",
        "503 forever",
        "lost response",
        "kill after the charge",
    ]
