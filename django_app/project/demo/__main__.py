"""`python -m project.demo`: set Django up, then import the scenes and run them in this order."""

from __future__ import annotations

import sys
from typing import TextIO

from project.demo.bootstrap import setup_django, stack_from_argv

SETUP = setup_django(stack_from_argv(sys.argv[1:]))

# The scene modules import models and the shop's clients at their top: Django must be set up.
from project.demo import (  # noqa: E402
    scenes_choreography,
    scenes_clients,
    scenes_events,
    scenes_sagas,
)
from project.demo.harness import Scene, run  # noqa: E402

SCENES: list[Scene] = [
    Scene(
        "Place an order: user, stock, payment, order", scenes_clients.order_flow, about="order-flow"
    ),
    Scene("A 503, retried, then success", scenes_clients.retried_503, about="retried-503"),
    Scene("A declined card as a typed error", scenes_clients.declined_card, about="declined-card"),
    Scene(
        "A malformed response caught by the contract",
        scenes_clients.malformed_response,
        about="malformed-response",
    ),
    Scene(
        "A lost response, retried with its Idempotency-Key, applied once",
        scenes_clients.lost_response,
        about="lost-response",
    ),
    Scene(
        "The order saga as data: its Mermaid flowchart",
        scenes_sagas.saga_mermaid,
        about="saga-as-data",
    ),
    Scene(
        "Order saga, happy path: the step log",
        scenes_sagas.saga_succeeds,
        show_calls=False,
        about="saga-happy-path",
    ),
    Scene(
        "Order saga, card declined: compensations in reverse",
        scenes_sagas.saga_payment_declined,
        show_calls=False,
        about="saga-declined",
    ),
    Scene(
        "Order saga, second item out of stock: the first released",
        scenes_sagas.saga_partial_reservation,
        show_calls=False,
        about="saga-partial-reservation",
    ),
    Scene(
        "Order saga, worker killed after the charge, resumed by another",
        scenes_sagas.saga_crash_and_resume,
        show_calls=False,
        about="saga-crash-and-resume",
    ),
    Scene(
        "Events: outbox, relay, inbox dedupe, dead letters",
        scenes_events.events_outbox_inbox,
        show_calls=False,
        about="events-outbox-inbox",
    ),
    Scene(
        "The same order, choreographed: each participant publishes the next event",
        scenes_choreography.checkout_choreographed,
        show_calls=False,
        about="choreographed-checkout",
    ),
]


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    return run(SCENES, argv, out, setup=SETUP)


if __name__ == "__main__":
    sys.exit(main())
