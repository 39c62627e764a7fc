"""The greeting saga: reserve a slot, then send; a refused greeting gives the slot back."""

from django_interlink.exceptions import StepRejected
from django_interlink.sagas.definition import SagaDefinition, SagaStep, StepContext

REFUSED = {"Mallory"}


def reserve_slot(ctx: StepContext) -> None:
    ctx.data["slot"] = f"slot-for-{ctx.data['name']}"


def release_slot(ctx: StepContext) -> None:
    ctx.data.pop("slot", None)


def send_greeting(ctx: StepContext) -> None:
    name = ctx.data["name"]
    if name in REFUSED:
        # A business answer: not retried; the saga undoes the steps before this one.
        raise StepRejected(f"{name} wants no greeting")
    # Written to the outbox with the step's result, in one transaction.
    ctx.emit("greeting.sent", {"name": name})


GREETING = SagaDefinition(
    "greeting",
    [
        SagaStep("reserve_slot", reserve_slot, compensation=release_slot),
        SagaStep("send_greeting", send_greeting),
    ],
)
