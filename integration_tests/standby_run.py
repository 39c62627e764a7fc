"""What the promotion tests run on a primary/standby pair: a thread committing outbox rows one
by one (each commit PostgreSQL acknowledged is recorded), `manage.py` processes (the relay, a
consumer) with their output in files, and the figures, written to reports/cluster/.

Each outbox row is an order.created event for a user of its own: the consumer's handler
(event_helpers.count_order) counts it on that user, so a count above one is an event applied
twice, and a missing count an event lost.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Min

from django_interlink.events.envelope import Envelope
from django_interlink.events.outbox import outbox_enqueue
from django_interlink.models import InboxEvent, OutboxEvent, SagaStepLog
from integration_tests.helpers import REPO_DIR, django_subprocess_env, manage_py_argv

REPORTS = REPO_DIR / "reports" / "cluster"


class OutboxWriter(threading.Thread):
    """Commits `events` to the outbox, one transaction each, one every `interval` s. A commit
    the database refused (or whose answer was lost) is tried again with the same event id: a
    retry of one that did commit is a no-op (ON CONFLICT DO NOTHING)."""

    def __init__(self, events: list[Envelope], interval: float) -> None:
        super().__init__(name="outbox-writer", daemon=True)
        self.events = events
        self.interval = interval
        #: event id -> time.time() when its COMMIT returned: what PostgreSQL promised to keep
        self.acknowledged: dict[str, float] = {}
        self.database_errors = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            for envelope in self.events:
                while not self._commit(envelope):
                    if self._halt.wait(0.05):
                        return
                if self._halt.wait(self.interval):
                    return
        except BaseException as exc:  # handed to the test by join_checked
            self.error = exc
        finally:
            connection.close()

    def _commit(self, envelope: Envelope) -> bool:
        try:
            with transaction.atomic():
                outbox_enqueue(
                    envelope.event_type,
                    envelope.data,
                    correlation_id=envelope.correlation_id,
                    event_id=envelope.event_id,
                )
        except DatabaseError:
            self.database_errors += 1
            connection.close()  # the next try connects again, to whichever host is primary
            return False
        self.acknowledged[envelope.event_id] = time.time()
        return True

    @property
    def done(self) -> bool:
        return len(self.acknowledged) == len(self.events) or self.error is not None

    def first_commit_after(self, moment: float) -> float | None:
        later = [t for t in self.acknowledged.values() if t > moment]
        return min(later) if later else None

    def join_checked(self, timeout: float = 60) -> None:
        self.join(timeout)
        self._halt.set()
        self.join(10)
        if self.error is not None:
            raise self.error


class ManagePy:
    """A `manage.py <args>` process on the test's database, its output in a file."""

    def __init__(self, name: str, logs: Path, *args: str, **env: str) -> None:
        self.log = logs / f"{name}.log"
        self.argv = manage_py_argv(*args)
        self.env = django_subprocess_env(LOG_LEVEL="WARNING", **env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagePy:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> tuple[int | None, str]:
        """SIGTERM (it finishes what it holds); its exit code and output."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        code = process.returncode if process is not None else None
        return code, self.log.read_text(errors="replace")


def seconds_after(moment: float, stamp: datetime | float | None) -> float | None:
    if stamp is None:
        return None
    at = stamp.timestamp() if isinstance(stamp, datetime) else stamp
    return round(at - moment, 3)


def first_after(moment: float) -> dict[str, float | None]:
    """Seconds from `moment` (time.time()) to the first relay publish, consumer application and
    saga step finished that came after it: when each process worked on the new primary."""
    since = datetime.fromtimestamp(moment).astimezone()
    sent = OutboxEvent.objects.filter(sent_at__gt=since).aggregate(t=Min("sent_at"))["t"]
    applied = InboxEvent.objects.filter(processed_at__gt=since).aggregate(t=Min("processed_at"))
    step = SagaStepLog.objects.filter(finished_at__gt=since).aggregate(t=Min("finished_at"))
    return {
        "relay_first_publish_s": seconds_after(moment, sent),
        "consumer_first_application_s": seconds_after(moment, applied["t"]),
        "saga_first_step_finished_s": seconds_after(moment, step["t"]),
    }


def write_figures(name: str, figures: dict[str, Any]) -> Path:
    """Print the figures (pytest -s) and write them to reports/cluster/postgres_<name>.json."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"postgres_{name}.json"
    text = json.dumps(figures, indent=2, default=str)
    path.write_text(text + "\n")
    print(f"\n--- cluster figures: postgres_{name} ({path}) ---\n{text}")
    return path
