"""The lease while a step runs: renewed by the heartbeat, and the step's calls stopped once
another worker holds the saga. (The heartbeat's thread on PostgreSQL: test_saga_lease.py.)"""

from __future__ import annotations

import threading
import time

import pytest

from django_interlink.exceptions import SagaLeaseLost
from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.heartbeat import Heartbeat
from django_interlink.sagas.services import saga_execute
from shop.clients.users import UserServiceClient


class Renewals:
    """A fake of the store's renewal: counts calls, answers `held`, signals the n-th call."""

    def __init__(self, *, held: bool = True, signal_at: int = 1) -> None:
        self.held = held
        self.count = 0
        self.signal_at = signal_at
        self.reached = threading.Event()

    def __call__(self) -> bool:
        self.count += 1
        if self.count >= self.signal_at:
            self.reached.set()
        return self.held


def heartbeat_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("saga-heartbeat")]


def test_the_heartbeat_renews_from_its_thread_until_the_block_ends():
    """Every third of the lease the thread renews it; leaving the block ends the thread."""
    renew = Renewals(signal_at=3)
    with Heartbeat(renew, 0.03, saga_id="beating", background=True) as beat:
        assert renew.reached.wait(timeout=30)
        beat.check()  # held: the step's next call may go
    assert heartbeat_threads() == []
    assert not beat.lost


def test_a_heartbeat_that_finds_the_lease_taken_stops_the_next_call():
    """A renewal matching no row marks the lease lost: the thread stops renewing and the next
    call's guard raises SagaLeaseLost."""
    renew = Renewals(held=False)
    with Heartbeat(renew, 0.03, saga_id="taken", background=True) as beat:
        deadline = time.monotonic() + 30
        while not beat.lost:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(SagaLeaseLost):
            beat.check()
    assert renew.count == 1


def test_without_a_thread_every_call_renews_the_lease_first():
    """Where no thread can beat (SQLite, a transaction), the guard renews before each call."""
    renew = Renewals()
    with Heartbeat(renew, 30, saga_id="inline", background=False) as beat:
        for _ in range(3):
            beat.check()
        assert (renew.count, heartbeat_threads()) == (3, [])
        renew.held = False
        with pytest.raises(SagaLeaseLost):
            beat.check()


@pytest.mark.django_db
def test_a_lost_lease_stops_the_step_before_its_next_call(services_settings, reset_stubs):
    """Another worker takes the saga over between two calls of one step: the second call is
    never sent, and the step ends with SagaLeaseLost, its attempt left open."""
    users = reset_stubs["users"]
    client = UserServiceClient()
    user_id = client.create_user(email="ada@example.com", name="Ada", is_active=True)["id"]
    # Matches every lookup without changing it: its hits count the lookups the stub received.
    counter = users.faults.add(
        method="GET", path="/users/{user_id}", kind="latency", delay=0, times=0
    )

    def look_twice(ctx: StepContext) -> None:
        client.get_user(user_id=user_id, use_cache=False)
        SagaExecution.objects.filter(saga_id=ctx.saga_id).update(lease_owner="another-worker")
        client.get_user(user_id=user_id, use_cache=False)

    definition = SagaDefinition("lease_test", [SagaStep("look", look_twice)])
    with pytest.raises(SagaLeaseLost):
        saga_execute(definition=definition, saga_id="taken", context={})
    client.close()
    assert [f["hits"] for f in users.faults.list() if f["id"] == counter] == [1]
    assert list(SagaStepLog.objects.values_list("step_name", "status")) == [("look", "running")]
