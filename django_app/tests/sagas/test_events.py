"""A step's events in the outbox: stable ids, and an undo announcing what its replay found."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_interlink.exceptions import ServiceHTTPError, ServiceTimeoutError
from django_interlink.models import OutboxEvent, SagaStatus
from django_interlink.sagas.definition import (
    RetryPolicy,
    SagaDefinition,
    SagaStep,
    StepContext,
    step_event_id,
)
from django_interlink.sagas.outcomes import resolve, tracked
from django_interlink.sagas.services import saga_execute
from shop.event_samples import sample_data

pytestmark = pytest.mark.django_db

PAYMENT = sample_data("payment.processed")


def outbox() -> list[tuple[str, str]]:
    return [
        (t, str(i))
        for t, i in OutboxEvent.objects.order_by("id").values_list("event_type", "event_id")
    ]


def test_an_undo_announces_what_its_replay_found_at_once_under_the_actions_id():
    """The charge's answer is lost; the refund's replay finds it and announces it at once, so
    its first, failed attempt has published it and the second publishes only the refund."""
    seen: list[list[tuple[str, str]]] = []

    def pay(ctx: StepContext) -> None:
        tracked(ctx.data.setdefault("payment", {}), _timeout)

    def refund(ctx: StepContext) -> None:
        seen.append(outbox())
        resolve(
            ctx.data["payment"],
            lambda: {"id": PAYMENT["payment_id"], **PAYMENT},
            on_applied=lambda payment: ctx.emit_forward("payment.processed", PAYMENT),
        )
        if ctx.attempt == 1:
            raise ServiceHTTPError(status_code=503)
        ctx.emit("payment.refunded", sample_data("payment.refunded"))

    definition = SagaDefinition(
        "test_saga", [SagaStep("pay", pay, refund, retry=RetryPolicy(attempts=1))]
    )
    conf = {"SAGA": {"COMPENSATION_ATTEMPTS": 2, "COMPENSATION_BACKOFF": 0.0}}
    with override_settings(INTERLINK=conf):
        result = saga_execute(definition=definition, saga_id="lost", context={})
    assert result.status == SagaStatus.COMPENSATED
    processed = ("payment.processed", str(step_event_id("lost", "pay", "action", 0)))
    refunded = ("payment.refunded", str(step_event_id("lost", "pay", "compensation", 0)))
    assert seen == [[], [processed]]
    assert outbox() == [processed, refunded]


def _timeout() -> dict:
    raise ServiceTimeoutError()
