"""Retention: each purge keeps its table bounded and spares what is still needed; the relay
loop purges on its schedule; `manage.py purge_expired`; the checks; "publish again"."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from django_interlink.conf import _merge
from django_interlink.events.outbox import outbox_enqueue, outbox_relay_loop
from django_interlink.models import (
    IdempotencyRecord,
    InboxEvent,
    OutboxEvent,
    OutboxStatus,
    SagaExecution,
    SagaStatus,
    SagaStepLog,
)
from django_interlink.retention.purge import RetentionSchedule, retention_purge

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def settings_with(**sections):
    return override_settings(INTERLINK=_merge(settings.INTERLINK, sections))


def sent_row(age: timedelta) -> OutboxEvent:
    envelope = outbox_enqueue(
        "user.created", {"user_id": str(uuid.uuid4()), "email": "a@b.example", "name": "A"}
    )
    OutboxEvent.objects.filter(event_id=envelope.event_id).update(
        status=OutboxStatus.SENT, sent_at=timezone.now() - age
    )
    return OutboxEvent.objects.get(event_id=envelope.event_id)


def inbox_row(age: timedelta) -> None:
    row = InboxEvent.objects.create(event_id=uuid.uuid4(), handler="h", event_type="user.created")
    InboxEvent.objects.filter(pk=row.pk).update(processed_at=timezone.now() - age)


def saga(status: SagaStatus, age: timedelta | None) -> SagaExecution:
    execution = SagaExecution.objects.create(
        saga_id=str(uuid.uuid4()),
        saga_type="t",
        status=status,
        completed_at=None if age is None else timezone.now() - age,
    )
    SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name="s",
        direction="action",
        attempt=1,
        started_at=timezone.now(),
    )
    return execution


def key_record(user, age: timedelta) -> None:
    record = IdempotencyRecord.objects.create(user=user, key=str(uuid.uuid4()), fingerprint="f")
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)


def test_the_purge_deletes_what_is_past_retention_and_keeps_the_rest():
    user = get_user_model().objects.create(username="u")
    old_sent, new_sent = sent_row(8 * DAY), sent_row(DAY)
    pending = outbox_enqueue(
        "user.created", {"user_id": str(uuid.uuid4()), "email": "a@b.example", "name": "A"}
    )
    inbox_row(15 * DAY)
    inbox_row(DAY)
    key_record(user, 25 * timedelta(hours=1))
    key_record(user, timedelta(hours=23))
    finished = [
        saga(s, 31 * DAY) for s in (SagaStatus.COMPLETED, SagaStatus.FAILED, SagaStatus.COMPENSATED)
    ]
    kept = [
        saga(SagaStatus.COMPLETED, DAY),
        saga(SagaStatus.NEEDS_ATTENTION, 90 * DAY),  # a person must look first
        saga(SagaStatus.RUNNING, None),
        saga(SagaStatus.COMPENSATING, None),
    ]
    counts = retention_purge()
    assert counts == {
        "outbox_sent": 1,
        "inbox": 1,
        "idempotency_keys": 1,
        "rate_limit_windows": 0,
        "sagas": 3,
    }
    assert set(OutboxEvent.objects.values_list("event_id", flat=True)) == {
        new_sent.event_id,
        uuid.UUID(pending.event_id),
    }
    assert old_sent.pk not in OutboxEvent.objects.values_list("pk", flat=True)
    assert InboxEvent.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert set(SagaExecution.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert not SagaStepLog.objects.filter(execution_id__in=[e.pk for e in finished]).exists()
    assert SagaStepLog.objects.count() == len(kept)


def test_tables_stay_bounded_under_a_steady_flow():
    """Ten days of one row a day of each kind, purged daily with a 3-day retention: never more
    than 3 rows of a kind (today's and the two before; the one 3 days old has just expired)."""
    user = get_user_model().objects.create(username="u")
    sizes = []
    with settings_with(
        RETENTION={
            "OUTBOX_SENT": 3 * 86400,
            "INBOX": 3 * 86400,
            "SAGAS": 3 * 86400,
            "DEAD_LETTER_REPLAY": 3600,
        },
        API={"IDEMPOTENCY_KEY_TTL": 3 * 86400},
    ):
        for _day in range(10):
            # a day passes: every row ages by one day, then today's rows are written
            for model, field in (
                (OutboxEvent, "sent_at"),
                (InboxEvent, "processed_at"),
                (SagaExecution, "completed_at"),
                (IdempotencyRecord, "created_at"),
            ):
                for obj in model.objects.all():
                    model.objects.filter(pk=obj.pk).update(**{field: getattr(obj, field) - DAY})
            sent_row(timedelta(0))
            inbox_row(timedelta(0))
            saga(SagaStatus.COMPLETED, timedelta(0))
            key_record(user, timedelta(0))
            retention_purge()
            sizes.append(
                (
                    OutboxEvent.objects.count(),
                    InboxEvent.objects.count(),
                    SagaExecution.objects.count(),
                    IdempotencyRecord.objects.count(),
                )
            )
    assert max(max(s) for s in sizes) == 3
    assert sizes[-1] == (3, 3, 3, 3)


def test_the_relay_loop_purges_on_its_schedule(memory_bus):
    """relay_outbox's loop runs the retention purge before its first round and then every
    INTERVAL: an old sent row goes without anyone calling purge_expired."""
    old = sent_row(8 * DAY)
    stop = threading.Event()
    schedule = RetentionSchedule()
    ran: list[dict[str, int] | None] = []

    def housekeeping():
        ran.append(schedule.run_if_due())
        if len(ran) == 2:
            stop.set()

    with settings_with(RETENTION={"INTERVAL": 3600}):
        outbox_relay_loop(bus=memory_bus, stop=stop, interval=0, housekeeping=housekeeping)
    assert ran[0] is not None and ran[0]["outbox_sent"] == 1
    assert ran[1] is None  # not due again within the interval
    assert not OutboxEvent.objects.filter(pk=old.pk).exists()


def test_interval_0_leaves_the_purge_to_the_command():
    sent_row(8 * DAY)
    with settings_with(RETENTION={"INTERVAL": 0}):
        assert RetentionSchedule().run_if_due() is None
    assert OutboxEvent.objects.count() == 1
    out = StringIO()
    call_command("purge_expired", stdout=out)
    assert "outbox_sent: 1" in out.getvalue().splitlines()
    assert OutboxEvent.objects.count() == 0


def test_an_inbox_retention_shorter_than_the_redelivery_horizon_is_an_error():
    with settings_with(RETENTION={"INBOX": 86400, "DEAD_LETTER_REPLAY": 7 * 86400}):
        ids = [m.id for m in run_checks()]
    assert "interlink.E091" in ids
    with settings_with(RETENTION={"INBOX": 8 * 86400, "DEAD_LETTER_REPLAY": 7 * 86400}):
        assert "interlink.E091" not in [m.id for m in run_checks()]


@pytest.mark.parametrize(
    ("section", "key", "value", "check_id"),
    [
        ("RETENTION", "SAGAS", 0, "interlink.E090"),
        ("RETENTION", "INTERVAL", "often", "interlink.E090"),
        ("API", "RATE_LIMIT", -1, "interlink.E090"),
        ("API", "MAX_JSON_DEPTH", 1000, "interlink.E092"),
    ],
)
def test_bad_retention_and_limit_settings_are_errors(section, key, value, check_id):
    with settings_with(**{section: {key: value}}):
        messages = [m for m in run_checks() if m.id == check_id]
    assert len(messages) == 1
    assert key in messages[0].msg


def test_publish_again_resets_the_attempt_count():
    """A FAILED row back to PENDING starts its attempts over, so the next refusal does not
    send it straight back to FAILED."""
    envelope = outbox_enqueue(
        "user.created", {"user_id": str(uuid.uuid4()), "email": "a@b.example", "name": "A"}
    )
    OutboxEvent.objects.filter(event_id=envelope.event_id).update(
        status=OutboxStatus.FAILED, attempts=10, last_error="OOM"
    )
    row = OutboxEvent.objects.get(event_id=envelope.event_id)
    admin = get_user_model().objects.create_superuser("admin", "a@b.example", "pw")
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/interlink/outboxevent/",
        {"action": "publish_again", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.PENDING, 0, None)
    assert row.last_error == "OOM"


def test_the_backfill_gives_old_order_sagas_their_owner_key():
    """Sagas stored before owner_key existed are found by the index after the migration."""
    from importlib import import_module

    backfill = import_module("shop.migrations.0003_backfill_saga_owner_key").backfill
    user_id = str(uuid.uuid4())
    old = SagaExecution.objects.create(
        saga_id="old", saga_type="order_processing", context_data={"user_id": user_id}
    )
    other = SagaExecution.objects.create(
        saga_id="x", saga_type="other", context_data={"user_id": user_id}
    )
    backfill(apps, None)
    old.refresh_from_db()
    other.refresh_from_db()
    assert (old.owner_key, other.owner_key) == (user_id, "")
