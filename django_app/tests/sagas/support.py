"""Plain Python saga steps for the engine's tests, and the settings that keep those tests fast."""

from __future__ import annotations

from typing import Any

from django_interlink.sagas.definition import RetryPolicy, SagaDefinition, SagaStep, StepContext
from django_interlink.sagas.registry import register

FAST = {"SAGA": {"COMPENSATION_ATTEMPTS": 3, "COMPENSATION_BACKOFF": 0.0, "LEASE_SECONDS": 30}}


class Recorder:
    """Plain Python steps that log what ran, and fail on demand."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.keys: list[str] = []
        self.fail: dict[str, list[BaseException]] = {}

    def step(self, name: str) -> Any:
        def fn(ctx: StepContext) -> None:
            label = f"{ctx.direction}:{name}"
            self.calls.append(label)
            self.keys.append(ctx.idempotency_key())
            errors = self.fail.get(label)
            if errors:
                raise errors.pop(0)
            ctx.data.setdefault("done", []).append(label)

        return fn

    def definition(self, names: list[str], *, no_undo: tuple[str, ...] = (), **kw: Any):
        return register(
            SagaDefinition(
                "test_saga",
                [
                    SagaStep(
                        n,
                        self.step(n),
                        compensation=None if n in no_undo else self.step(n),
                        retry=RetryPolicy(attempts=3, backoff=0.0),
                        **kw,
                    )
                    for n in names
                ],
            )
        )
