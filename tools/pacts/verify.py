"""Provider verification: the stubs against the HTTP pacts, the real publisher against the
message pacts, each with pact-python's `Verifier`.

HTTP: the stub runs on a real socket; before each interaction the verifier asks the stub's
control plane for the interaction's provider state (`POST /__control/states`, which resets the
stub first), then replays the pact's request with the stub's own bearer token.
Messages: the order saga runs on the stubs with the confirmation e-mail failing, so it charges,
places the order, then refunds and cancels: its outbox rows hold the four events it publishes,
and `relay_message` gives each as the relay sends it. The choreography's participants run on
the stubs and the memory bus through every ending of a checkout, publishing the 11 checkout
events the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings
from pact import Verifier
from pact.types import Message

from django_interlink.conf import _merge
from django_interlink.events.backends import get_bus, reset_buses
from django_interlink.events.memory import MemoryBus
from django_interlink.events.outbox import outbox_row
from django_interlink.models import OutboxEvent
from mock_services.inventory.store import SOLD_OUT_ID, WIDGET_ID
from mock_services.testing import StubServer
from shop.choreography.local import settle
from shop.choreography.services import checkout_start
from shop.clients.users import UserServiceClient
from shop.event_samples import SAMPLE_DATA
from shop.order_processing import process_order_request
from tools.pacts.messages import MESSAGE_PACTS, description, relay_message


def _raise_on_failure(verifier: Verifier, what: str) -> None:
    try:
        verifier.verify()
    except RuntimeError as exc:  # pact-python raises this with no detail of its own
        raise AssertionError(f"{what}:\n{verifier.output(strip_ansi=True)}") from exc


def verify_http(pact_file: Path, stub: StubServer, token: str) -> dict[str, Any]:
    """Replay every interaction of `pact_file` against `stub`; AssertionError naming each
    mismatch. Returns pact's results (for counting)."""

    def set_state(state: str, action: str, parameters: Mapping[str, Any] | None = None) -> None:
        # Pact calls this with state "" for an interaction that names none: a clean stub.
        if action == "setup" and state:
            stub.set_state(state, dict(parameters or {}))
        elif action == "setup":
            stub.reset()

    stub.reset()
    verifier = (
        Verifier(stub.service, host=stub.host)
        .add_transport(url=stub.url)
        .add_source(pact_file)
        .state_handler(set_state, teardown=True)
        .add_custom_header("Authorization", f"Bearer {token}")
        .set_error_on_empty_pact(enabled=True)
    )
    _raise_on_failure(verifier, f"{pact_file.name} against the {stub.service} stub")
    return verifier.results


def saga_messages(user_email: str = "pact@example.com") -> dict[str, Message]:
    """Run the order saga until its e-mail fails and it undoes everything; every event type it
    published -> the message the relay sends for its first outbox row. Needs the stubs in the
    INTERLINK settings and a database."""
    user_id = UserServiceClient().create_user(email=user_email, name="Pact")["id"]
    backend = "tests.shop.failing_email.EmailBackend"
    with override_settings(EMAIL_BACKEND=backend):
        result = process_order_request(
            user_id,
            [{"product_id": WIDGET_ID, "quantity": 1}],
            "tok_visa",
            saga_id=str(uuid.uuid4()),
        )
    if result.status != "compensated":
        raise AssertionError(f"the saga ended {result.status}, expected compensated")
    messages: dict[str, Message] = {}
    for row in OutboxEvent.objects.order_by("id"):
        messages.setdefault(row.event_type, relay_message(row))
    return messages


def choreography_messages(stubs: Mapping[str, StubServer]) -> dict[str, Message]:
    """Run the choreographed checkout on the stubs and the memory bus through every ending it
    has (completed; customer rejected; sold out; card declined; orders down, so refunded):
    every checkout event type the participants published -> the message the relay sends for
    its first outbox row. Needs the stubs in the INTERLINK settings and a database."""
    users = UserServiceClient()
    active = users.create_user(email="pact-checkout@example.com", name="Pact")["id"]
    inactive = users.create_user(email="pact-gone@example.com", name="Gone", is_active=False)
    item = [{"product_id": WIDGET_ID, "quantity": 1}]
    runs: list[tuple[str, list[dict[str, Any]], str, str | None]] = [
        (active, item, "tok_visa", None),
        (inactive["id"], item, "tok_visa", None),
        (active, [{"product_id": SOLD_OUT_ID, "quantity": 1}], "tok_visa", None),
        (active, item, "tok_declined", None),
        (active, item, "tok_visa", "orders"),
    ]
    conf = _merge(
        settings.INTERLINK,
        {"EVENT_BUS": {"BACKEND": "memory", "RETRY_BACKOFF": 0.0, "RECONNECT_BACKOFF_MAX": 0.05}},
    )
    reset_buses()
    try:
        with override_settings(INTERLINK=conf):
            bus = get_bus()
            assert isinstance(bus, MemoryBus)
            for user_id, items, card, down in runs:
                faults = stubs[down].faults if down is not None else None
                fault = (
                    faults.add(method="POST", path=f"/{down}", kind="error", status=503, times=0)
                    if faults is not None
                    else None
                )
                checkout_start(user_id=user_id, items=items, payment_method=card, currency="USD")
                settle(bus=bus)
                if faults is not None and fault is not None:
                    faults.remove(fault)
    finally:
        reset_buses()
    messages: dict[str, Message] = {}
    for row in OutboxEvent.objects.filter(event_type__startswith="checkout.").order_by("id"):
        messages.setdefault(row.event_type, relay_message(row))
    return messages


def user_created_message() -> Message:
    """user.created as the outbox writes it (the users service's own publisher is not in this
    repository; its sample payload is the one the unit tests keep valid)."""
    return relay_message(outbox_row("user.created", dict(SAMPLE_DATA["user.created"])))


def verify_messages(
    pacts_dir: Path,
    produced: Mapping[str, Message],
    *,
    providers: set[str] | None = None,
    pacts: Mapping[tuple[str, str], tuple[str, ...]] = MESSAGE_PACTS,
) -> list[str]:
    """Verify each message pact of `pacts` (of `providers`, default all) against `produced`
    (event type -> message); returns the pact files verified."""
    verified: list[str] = []
    for (consumer, provider), event_types in pacts.items():
        if providers is not None and provider not in providers:
            continue
        missing = [t for t in event_types if t not in produced]
        if missing:
            raise AssertionError(f"{provider} produced no {', '.join(missing)} event")
        handler: dict[str, Callable[..., Message] | Message | bytes] = {
            description(t): produced[t] for t in event_types
        }
        pact_file = pacts_dir / f"{consumer}-{provider}.json"
        verifier = (
            Verifier(provider)
            .message_handler(handler)
            .add_source(pact_file)
            .set_error_on_empty_pact(enabled=True)
        )
        _raise_on_failure(verifier, f"{pact_file.name} against the {provider} publisher")
        verified.append(pact_file.name)
    return verified
