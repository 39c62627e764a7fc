"""State read at scrape time: the outbox's backlog, sagas by status, each group's broker backlog.

`StateCollector` answers every scrape from the database (a few grouped COUNTs on indexed
columns) and from the broker (backlog.py), each bounded by METRICS["SCRAPE_TIMEOUT"]: on
PostgreSQL a statement timeout, for the broker a worker thread waited on for that long. What
fails or does not answer in time is left out of that scrape and counted in
`interlink_metrics_scrape_errors_total{source}`: a scrape never fails because a dependency
did. Only the web process serves it (views.py); a worker's own endpoint serves its counters
only, so the state is not scraped once per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..conf import ms_settings
from ..events.handlers import load_registry
from ..health import redact
from ..models import OutboxEvent, OutboxStatus, SagaExecution
from ..models.sagas import ACTIVE_STATUSES, SagaStatus
from .backlog import GroupBacklog, read_backlog
from .instruments import REGISTRY

__all__ = ["SCRAPE_ERRORS", "STATE", "StateCollector", "configured_groups"]

logger = logging.getLogger("django_interlink.metrics")

SCRAPE_ERRORS = Counter(
    "interlink_metrics_scrape_errors_total",
    "Parts of a /metrics scrape left out because their source failed or did not answer within "
    "METRICS['SCRAPE_TIMEOUT'], by source (database, broker)",
    ["source"],
    registry=REGISTRY,
)
# Statuses whose outbox rows are counted: sent rows are history (purged by retention), and
# counting them all on each scrape would cost more as they pile up.
OUTBOX_STATUSES = (OutboxStatus.PENDING, OutboxStatus.FAILED)


def configured_groups() -> dict[str, list[str]]:
    """METRICS["GROUPS"], or CONSUMER_GROUP with the event types of HANDLER_MODULES."""
    groups: Mapping[str, Sequence[str]] = ms_settings.METRICS["GROUPS"]
    if groups:
        return {str(group): sorted(map(str, types)) for group, types in groups.items()}
    return {str(ms_settings.EVENT_BUS["CONSUMER_GROUP"]): load_registry().event_types}


class StateCollector(Collector):
    """The database's and the broker's view, read anew on each scrape."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-broker")
        self._lock = threading.Lock()
        # A broker read that outlived its scrape: the next scrape does not queue behind it.
        self._running: Future[dict[str, GroupBacklog]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        timeout = float(ms_settings.METRICS["SCRAPE_TIMEOUT"])
        try:
            yield from _database_families(timeout)
        except Exception as exc:
            _failed("database", exc)
        backlog = self._broker_backlog(timeout)
        if backlog is not None:
            yield from _broker_families(backlog)

    def _broker_backlog(self, timeout: float) -> dict[str, GroupBacklog] | None:
        try:
            groups = configured_groups()
            bus = dict(ms_settings.EVENT_BUS)
            with self._lock:
                if self._running is not None and not self._running.done():
                    raise TimeoutError("the previous scrape's broker read has not returned")
                self._running = future = self._pool.submit(
                    read_backlog, bus, groups, timeout=timeout
                )
            return future.result(timeout=timeout)
        except FutureTimeout:
            _failed("broker", TimeoutError(f"no answer within {timeout:g}s"))
        except Exception as exc:
            _failed("broker", exc)
        return None


def _failed(source: str, exc: BaseException) -> None:
    SCRAPE_ERRORS.labels(source).inc()
    logger.warning(
        "metrics: %s left out of this scrape: %s",
        source,
        redact(f"{type(exc).__name__}: {exc}")[:300],
    )


def _database_families(timeout: float) -> Iterator[GaugeMetricFamily]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {max(int(timeout * 1000), 1)}")
        outbox = dict(
            OutboxEvent.objects.filter(status__in=OUTBOX_STATUSES)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        oldest = OutboxEvent.objects.filter(status=OutboxStatus.PENDING).aggregate(
            at=Min("created_at")
        )["at"]
        sagas = list(
            SagaExecution.objects.order_by()
            .values_list("saga_type", "status")
            .annotate(n=Count("id"))
        )
        waiting = list(
            SagaExecution.objects.filter(status__in=ACTIVE_STATUSES, not_before__isnull=False)
            .order_by()
            .values_list("saga_type")
            .annotate(n=Count("id"))
        )
    rows = GaugeMetricFamily(
        "interlink_outbox_events",
        "Outbox rows by status: pending (the backlog the relay has yet to publish) and failed "
        "(refused OUTBOX_MAX_ATTEMPTS times, kept for a person)",
        labels=["status"],
    )
    for status in OUTBOX_STATUSES:
        rows.add_metric([str(status)], outbox.get(str(status), 0))
    yield rows
    age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    yield GaugeMetricFamily(
        "interlink_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending outbox row (0 when none is pending)",
        value=max(age, 0.0),
    )
    yield _saga_family(sagas)
    undos = GaugeMetricFamily(
        "interlink_sagas_waiting_undo",
        "Sagas whose undo failed for a passing reason and waits for its next try, by saga type",
        labels=["saga"],
    )
    for saga_type, n in waiting:
        undos.add_metric([saga_type], n)
    yield undos


def _saga_family(counts: list[tuple[str, str, int]]) -> GaugeMetricFamily:
    """Sagas by type and status; every status of a type present, 0 where it has none."""
    family = GaugeMetricFamily(
        "interlink_sagas",
        "Saga executions kept in the database, by saga type and status",
        labels=["saga", "status"],
    )
    by_type: dict[str, dict[str, int]] = {}
    for saga_type, status, n in counts:
        by_type.setdefault(saga_type, {})[status] = n
    for saga_type, seen in sorted(by_type.items()):
        for status in SagaStatus.values:
            family.add_metric([saga_type, status], seen.get(status, 0))
    return family


def _broker_families(backlog: Mapping[str, GroupBacklog]) -> Iterator[GaugeMetricFamily]:
    lag = GaugeMetricFamily(
        "interlink_consumer_lag_messages",
        "Messages waiting for a consumer group on the broker, not yet handed to its consumers",
        labels=["group"],
    )
    dead = GaugeMetricFamily(
        "interlink_dead_letters",
        "Dead letters a consumer group keeps on the broker (manage.py dead_letters)",
        labels=["group"],
    )
    for group, each in sorted(backlog.items()):
        lag.add_metric([group], each.waiting)
        dead.add_metric([group], each.dead)
    yield lag
    yield dead


STATE = StateCollector()
