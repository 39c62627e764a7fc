""" "Try this": five set-ups of one order, each with what should happen and a check that it did.

A preset clears the faults, sets its own (and the worker's kill switch), picks a card and places
an order through the page; once the saga has ended, `verdict` compares what the saga, the stubs'
request logs and the payments ledger show with what the preset said. The expected figures come
from the settings and the saga's definition (`figures`), never from numbers written here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django_interlink.clients.transport import requests_per_call
from django_interlink.conf import ms_settings
from django_interlink.models import SagaExecution, SagaStepLog
from django_interlink.models.sagas import SagaStatus, StepDirection
from django_interlink.sagas.runner import retry_policy
from shop.order_processing import ORDER_PROCESSING

TIMES = "\N{MULTIPLICATION SIGN}"
PAYMENT_STEP = "process_payment"
PAYMENT_POST = ("payments", "POST", "/payments")


@dataclass(frozen=True)
class Figures:
    """The two retry budgets of the charge: requests per call, attempts of the step."""

    requests: int
    attempts: int


def figures() -> Figures:
    step = ORDER_PROCESSING.steps[ORDER_PROCESSING.index(PAYMENT_STEP)]
    return Figures(
        requests=requests_per_call(ms_settings.service("payments")["RETRY"]),
        attempts=retry_policy(step, compensating=False).attempts,
    )


@dataclass(frozen=True)
class Observed:
    """What one finished saga shows about its charge."""

    status: str
    payment_attempts: list[str]  # each action attempt's status, "interrupted" if it never ended
    posts: int
    keys: int
    charges: int | None  # None: the payments ledger cannot be read from this process

    def text(self) -> str:
        charges = "unknown" if self.charges is None else str(self.charges)
        return (
            f"saga {self.status} · {PAYMENT_STEP}: {len(self.payment_attempts)} attempt(s) "
            f"({', '.join(self.payment_attempts) or 'none'}), {self.posts} POST /payments under "
            f"{self.keys} Idempotency-Key(s) · charges held: {charges}"
        )


Check = Callable[[Observed, Figures], bool]


@dataclass(frozen=True)
class Preset:
    slug: str
    name: str
    card: str
    expect: Callable[[Figures], str]
    check: Check
    faults: Sequence[dict[str, Any]] = ()
    kill_after_charge: bool = False
    # A fault that never runs out is cleared once the saga ends, so the next order is not hit.
    clear_after: bool = False


def _charge_fault(**spec: Any) -> dict[str, Any]:
    service, method, path = PAYMENT_POST
    return {"service": service, "method": method, "path": path, **spec}


PRESETS: tuple[Preset, ...] = (
    Preset(
        slug="declined-card",
        name="declined card",
        card="tok_declined",
        expect=lambda f: (
            "compensated: the card is declined (402, a final answer), so the saga undoes the "
            "reservation; the payment's undo makes no call (its outcome is ABSENT); no charge"
        ),
        check=lambda o, f: o.status == SagaStatus.COMPENSATED and o.charges == 0,
    ),
    Preset(
        slug="503-twice",
        name=f"503 {TIMES}2",
        card="tok_visa",
        faults=(_charge_fault(kind="error", status=503, times=2),),
        expect=lambda f: (
            "completed, the two 503s hidden by the client's retries: one attempt of "
            f"{PAYMENT_STEP} sends 3 POST /payments (of up to {f.requests}) under one key; "
            "the saga never sees a failure; one charge"
        ),
        check=lambda o, f: (
            o.status == SagaStatus.COMPLETED
            and o.payment_attempts == ["succeeded"]
            and o.posts == 3
            and o.keys == 1
            and o.charges == 1
        ),
    ),
    Preset(
        slug="503-forever",
        name="503 forever",
        card="tok_visa",
        faults=(_charge_fault(kind="error", status=503, times=0),),
        clear_after=True,
        expect=lambda f: (
            f"compensated: every POST /payments answers 503, so each of the {f.attempts} "
            f"attempts of {PAYMENT_STEP} spends its {f.requests} requests "
            f"({f.attempts} {TIMES} {f.requests} = {f.attempts * f.requests}), then the saga "
            "undoes the reservation; no charge (the fault is cleared afterwards)"
        ),
        check=lambda o, f: (
            o.status == SagaStatus.COMPENSATED
            and o.payment_attempts == ["failed"] * f.attempts
            and o.posts == f.attempts * f.requests
            and o.charges == 0
        ),
    ),
    Preset(
        slug="lost-response",
        name="lost response",
        card="tok_visa",
        faults=(_charge_fault(kind="lost_response", times=1),),
        expect=lambda f: (
            "completed with 2 POST /payments and 1 charge: the stub charges, the answer is "
            "lost, the client sends the request again under the same Idempotency-Key and the "
            "stub answers with the stored payment"
        ),
        check=lambda o, f: (
            o.status == SagaStatus.COMPLETED and o.posts == 2 and o.keys == 1 and o.charges == 1
        ),
    ),
    Preset(
        slug="kill-after-charge",
        name="kill after the charge",
        card="tok_visa",
        kill_after_charge=True,
        expect=lambda f: (
            "resumed: the worker dies right after the charge, before it saves it; once its "
            "lease lapses a new worker claims the saga, charges again under the same key (the "
            "stub replays its answer) and completes: 2 attempts of the charge, 1 charge"
        ),
        check=lambda o, f: (
            o.status == SagaStatus.COMPLETED
            and o.payment_attempts == ["interrupted", "succeeded"]
            and o.keys == 1
            and o.charges == 1
        ),
    ),
)
BY_SLUG = {preset.slug: preset for preset in PRESETS}


def page_presets() -> list[dict[str, Any]]:
    """The presets as the page's script runs them."""
    known = figures()
    return [
        {
            "slug": p.slug,
            "name": p.name,
            "card": p.card,
            "faults": [dict(fault) for fault in p.faults],
            "kill_after_charge": p.kill_after_charge,
            "clear_after": p.clear_after,
            "expect": p.expect(known),
        }
        for p in PRESETS
    ]


def observe(
    logs: Sequence[SagaStepLog], calls: list[dict[str, Any]], charges: list[Any] | None, status: str
) -> Observed:
    service, method, path = PAYMENT_POST
    posts = [c for c in calls if (c["service"], c["method"], c["path"]) == (service, method, path)]
    return Observed(
        status=status,
        payment_attempts=[
            log.outcome
            for log in logs
            if log.step_name == PAYMENT_STEP and log.direction == StepDirection.ACTION
        ],
        posts=len(posts),
        keys=len({c["key"] for c in posts}),
        charges=None if charges is None else len(charges),
    )


def verdict(
    preset: Preset,
    execution: SagaExecution,
    calls: list[dict[str, Any]],
    charges: list[Any] | None,
) -> dict[str, Any]:
    """Whether what `preset` said would happen happened (None while the saga runs)."""
    known = figures()
    seen = observe(list(execution.step_logs.all()), calls, charges, str(execution.status))
    return {
        "preset": preset.slug,
        "finished": execution.is_terminal,
        "met": preset.check(seen, known) if execution.is_terminal else None,
        "expected": preset.expect(known),
        "observed": seen.text(),
        "figures": asdict(known),
    }
