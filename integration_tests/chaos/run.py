"""One chaos run: worker processes and the traffic feeder started, faults injected while they
run, then the end state checked and the figures reported.

The workers are `manage.py resume_sagas` processes, not threads: a database restart must meet
the command's own outage loop and each worker's own connections, and a stub stopped must refuse
connections to another process's pools. A registry change reaches them through the file their
registry reads (registry.py): override_settings swapped under running threads would race with
the settings' lazy cache, and a worker could keep the old instances.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.db import DatabaseError, connection
from tests.shop.support import Shop

from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.models.sagas import TERMINAL_STATUSES
from integration_tests.helpers import django_subprocess_env
from integration_tests.workers import Workers
from mock_services.testing import StubServer

from .checks import check_run
from .figures import Fault, Timeline, measure, releases, report
from .registry import write_instances
from .traffic import BUYERS, Feeder, orders

T = TypeVar("T")

WORKERS = 3
SETTINGS = "integration_tests.chaos.settings"


def tolerant(query: Callable[[], T], default: T) -> T:
    """A query of the test's own that the database may refuse while it restarts."""
    try:
        return query()
    except DatabaseError:
        connection.close()  # the next query opens a new connection
        return default


class ChaosRun:
    def __init__(
        self,
        name: str,
        shop: Shop,
        stubs: dict[str, StubServer],
        token: str,
        workdir: Path,
        *,
        sagas: int,
        interval: float,
        discovery: bool = False,
    ) -> None:
        self.name = name
        self.shop = shop
        self.stubs = stubs
        self.orders = orders(shop, sagas, name)
        self.on_hand = {pid: p["on_hand"] for pid, p in shop.ledger().products.items()}
        self.instances = workdir / "instances.json"
        write_instances(self.instances, {})
        self.env = django_subprocess_env(
            DJANGO_SETTINGS_MODULE=SETTINGS,
            SERVICES_API_KEY=token,
            CHAOS_INSTANCES_FILE=str(self.instances),
            CHAOS_DISCOVERY="1" if discovery else "0",
            LOG_LEVEL="WARNING",
            **{f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()},
        )
        self.workdir = workdir
        self.workers = Workers(WORKERS, self.env, workdir, "--poll-interval", "0.1")
        self.feeder = Feeder(self.orders, interval)
        self.timeline = Timeline()

    def start(self) -> ChaosRun:
        self.workers.start()
        self.feeder.start()
        return self

    # -- while it runs ---------------------------------------------------------------------

    def ended(self) -> int:
        """How many sagas have ended so far."""
        return tolerant(
            lambda: SagaExecution.objects.filter(status__in=TERMINAL_STATUSES).count(), 0
        )

    def a_charge_to_undo_is_coming(self) -> bool:
        """A bouncing buyer's saga has been charged and has not begun to undo yet: its refund
        will be asked for soon."""
        bouncing = [o.saga_id for n, o in enumerate(self.orders) if n % BUYERS == BUYERS - 1]
        undoing = SagaStepLog.objects.filter(direction="compensation").values("execution_id")
        return tolerant(
            lambda: (
                SagaStepLog.objects.filter(
                    execution__saga_id__in=bouncing,
                    step_name="process_payment",
                    direction="action",
                    status="succeeded",
                )
                .exclude(execution_id__in=undoing)
                .exists()
            ),
            False,
        )

    def wait_for(self, done: Callable[[], bool], what: str, timeout: float = 60) -> None:
        self.workers.until(done, what, timeout)

    def hold(self, seconds: float) -> None:
        """Let the run go on for `seconds` (a fault in place), less if a worker exits."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.workers.exited():
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop storing sagas and stop the workers, whatever happened (a fixture's teardown)."""
        self.feeder.halt(timeout=10)
        self.workers.stop(timeout=10)

    # -- after it --------------------------------------------------------------------------

    def refunds_that_waited(self) -> set[str]:
        """Sagas whose refund failed for a while (and so waited, since all end clean)."""
        return set(
            SagaExecution.objects.filter(
                step_logs__step_name="process_payment",
                step_logs__direction="compensation",
                step_logs__status="failed",
            ).values_list("saga_id", flat=True)
        )

    def check_plain_orders_complete_after(self, fault: Fault) -> None:
        """The orders stored after `fault` cleared that nothing of their own fails complete:
        the service is really back for the workers."""
        assert fault.ended is not None
        plain = {o.saga_id for o in self.orders if o.plain}
        after = {s for s, t in self.feeder.created.items() if t > fault.ended and s in plain}
        statuses = dict(
            SagaExecution.objects.filter(saga_id__in=after).values_list("saga_id", "status")
        )
        assert after != set()
        assert statuses == dict.fromkeys(after, "completed")

    def check_stock_released_while_refunds_waited(self, fault: Fault) -> None:
        """Some refunds could not reach payments during `fault`, and the stock of those sagas
        was released before it cleared: the waiting refund held no stock hostage."""
        waited = self.refunds_that_waited()
        released = releases(self.stubs["inventory"])
        assert fault.ended is not None
        assert waited != set()
        assert {s: released[s] < fault.ended for s in waited} == dict.fromkeys(waited, True)

    def finish(self, timeout: float = 150) -> dict[str, Any]:
        """Wait for every saga to end; stop the workers; check the end state; report figures."""
        try:
            self.wait_for(lambda: self.feeder.done, "every saga to be stored", timeout)
            self.wait_for(
                lambda: tolerant(
                    lambda: (
                        SagaExecution.objects.exclude(status__in=TERMINAL_STATUSES).count() == 0
                    ),
                    False,
                ),
                "every saga to end",
                timeout,
            )
        finally:
            self.feeder.join_checked()
            outputs = self.workers.stop()
        # Each worker lived through the faults and exited 0 on SIGTERM.
        assert [o.returncode for o in outputs] == [0] * WORKERS, [o.stderr[-3000:] for o in outputs]
        connection.close()
        ledger = self.shop.ledger()
        more = self.after_sagas_ended(timeout)
        figures = measure(
            self.timeline,
            self.stubs,
            workers=WORKERS,
            feeder_database_errors=self.feeder.database_errors,
            worker_database_errors=sum(o.stderr.count("database error") for o in outputs),
            **more,
        )
        report(self.name, figures)
        check_run(ledger, self.stubs["payments"], self.on_hand)
        self.check_more(figures)
        return figures

    # -- what a run with more parts adds (cluster.py) -------------------------------------

    def after_sagas_ended(self, timeout: float) -> dict[str, Any]:
        """Once every saga has ended and the workers stopped: wait for what else must settle,
        stop it, and return its figures (reported with the run's)."""
        return {}

    def check_more(self, figures: dict[str, Any]) -> None:
        """Checks of its own after the run's (which have passed by then)."""
