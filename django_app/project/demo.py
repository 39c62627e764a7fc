"""`python -m project.demo` (`make demo`): the order flow through the Django clients, on stubs.

Runs on embedded defaults: SQLite in a temp dir, the four stub services on free local ports in
this process, a random bearer token. Each scene is a small function; every service call prints
one line (service, operation, request id, status, duration). Add a scene by writing a function
`def my_scene(demo: Demo) -> None` and appending `Scene("title", my_scene)` to SCENES.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from microservices.clients.inventory import InventoryServiceClient
    from microservices.clients.orders import OrderServiceClient
    from microservices.clients.payments import PaymentServiceClient
    from microservices.clients.users import UserServiceClient
    from mock_services.testing import StubServer

SERVICES = ("users", "orders", "payments", "inventory")
# The payments stub's test cards (documented in contracts/payments.yaml), not secrets.
CARD_OK = "tok_visa"
CARD_DECLINED = "tok_declined"


class CallPrinter(logging.Handler):
    """Prints the clients' log records as one aligned line per call (and per retry)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(level=logging.INFO)
        self.out = out
        self.calls = 0

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        if fields.get("event") == "retry":
            reason = fields.get("cause") or "an error"
            how = "Retry-After" if fields.get("retry_after") else "backoff"
            print(
                f"    ↻ {fields['service']}.{fields['operation']} retrying after {reason},"
                f" waiting {fields['wait_s']:.3f}s ({how})",
                file=self.out,
            )
            return
        if fields.get("event") != "call":
            return
        self.calls += 1
        status = fields.get("status") or type(fields.get("error")).__name__
        attempts = fields.get("attempts", 1)
        print(
            f"  {fields['service']:<10} {fields['operation']:<20} {fields['request_id']}"
            f"  {status!s:>3}  {fields['duration_ms']:7.1f} ms"
            + (f"  ({attempts} attempts)" if attempts and attempts > 1 else ""),
            file=self.out,
        )


@dataclass
class Demo:
    """What scenes share: the stubs, one client per service, and the objects made so far."""

    stubs: dict[str, StubServer]
    users: UserServiceClient
    orders: OrderServiceClient
    payments: PaymentServiceClient
    inventory: InventoryServiceClient
    out: TextIO = sys.stdout
    state: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out)


@dataclass(frozen=True)
class Scene:
    title: str
    run: Callable[[Demo], None]


# -- scenes ------------------------------------------------------------------------------------


def order_flow(demo: Demo) -> None:
    """A user, a product, a reservation, a payment and an order: the happy path."""
    user = demo.users.create_user(email=f"ada+{secrets.token_hex(3)}@example.com", name="Ada")
    product = demo.inventory.create_product(
        sku=f"BOOK-{secrets.token_hex(3).upper()}", name="Notebook", on_hand=10
    )
    reservation = demo.inventory.reserve_item(
        product_id=product["id"], quantity=2, order_reference="demo-order-1"
    )
    payment = demo.payments.process_payment(
        user_id=user["id"],
        amount=2 * 1250,
        currency="EUR",
        card_token=CARD_OK,
        order_reference="demo-order-1",
        idempotency_key=f"demo-order-1-payment-{user['id']}",
    )
    order = demo.orders.create_order(
        user_id=user["id"],
        items=[{"product_id": product["id"], "quantity": 2, "unit_price": 1250}],
        currency="EUR",
        payment_id=payment["id"],
        reservation_ids=[reservation["id"]],
    )
    order = demo.orders.update_order_status(order_id=order["id"], status="confirmed")
    stock = demo.inventory.get_stock(product_id=product["id"])
    demo.state.update(user=user, product=product, payment=payment, order=order)
    demo.say(
        f"order {order['id'][:8]}… {order['status']}, total {order['total_amount'] / 100:.2f}"
        f" {order['currency']}; stock on_hand={stock['on_hand']} reserved={stock['reserved']}"
        f" available={stock['available']}"
    )


def retried_503(demo: Demo) -> None:
    """The inventory answers 503 once: urllib3 retries with backoff and the call succeeds."""
    product = demo.state["product"]
    demo.stubs["inventory"].faults.add(
        method="GET", path="/products/{product_id}", kind="error", status=503, times=1
    )
    stock = demo.inventory.get_stock(product_id=product["id"])
    demo.say(f"got the stock anyway: available={stock['available']}")


def declined_card(demo: Demo) -> None:
    """tok_declined: the payments service answers 402, raised as a typed PaymentDeclined."""
    from microservices.exceptions import PaymentDeclined

    try:
        demo.payments.process_payment(
            user_id=demo.state["user"]["id"], amount=999, currency="EUR", card_token=CARD_DECLINED
        )
    except PaymentDeclined as exc:
        demo.say(f"PaymentDeclined: status {exc.status_code}, type {exc.problem.get('type')}")
    else:
        raise AssertionError("the declined card was accepted")


def malformed_response(demo: Demo) -> None:
    """The orders service returns a body that breaks its contract: caught as ContractViolation."""
    from microservices.exceptions import ContractViolation

    demo.stubs["orders"].faults.add(method="GET", path="/orders/{order_id}", kind="malformed")
    try:
        demo.orders.get_order(order_id=demo.state["order"]["id"])
    except ContractViolation as exc:
        demo.say(f"ContractViolation in {exc.operation}, field {exc.field!r}: {exc.message}")
    else:
        raise AssertionError("the malformed body was accepted")


def lost_response(demo: Demo) -> None:
    """The reservation is made but its response is lost: the keyed retry replays it, once."""
    product = demo.state["product"]
    before = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    demo.stubs["inventory"].faults.add(method="POST", path="/reservations", kind="lost_response")
    demo.inventory.reserve_item(product_id=product["id"], quantity=1)
    after = demo.inventory.get_stock(product_id=product["id"])["reserved"]
    if after - before != 1:
        raise AssertionError(f"reserved moved by {after - before}, not 1")
    demo.say(f"reserved {before} -> {after}: applied once despite the retry")


SCENES: list[Scene] = [
    Scene("Place an order: user, stock, payment, order", order_flow),
    Scene("A 503, retried, then success", retried_503),
    Scene("A declined card as a typed error", declined_card),
    Scene("A malformed response caught by the contract", malformed_response),
    Scene("A lost response, retried with its Idempotency-Key, applied once", lost_response),
]


# -- set-up ------------------------------------------------------------------------------------


def _setup_django(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")
    # Embedded defaults whatever the shell says: a throwaway SQLite file and secret.
    os.environ["SQLITE_PATH"] = str(workdir / "demo.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


@contextmanager
def running_stubs(token: str) -> Iterator[dict[str, StubServer]]:
    from mock_services.testing import StubServer

    with ExitStack() as stack:
        yield {name: stack.enter_context(StubServer(name, token)) for name in SERVICES}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m project.demo", description=__doc__)
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scene numbers")
    args = parser.parse_args(argv)
    if args.list:
        for number, scene in enumerate(SCENES, 1):
            print(f"{number}. {scene.title}", file=out)
        return 0

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microservices-demo-") as tmp:
        _setup_django(Path(tmp))
        from django.conf import settings
        from django.test import override_settings

        from microservices.clients.inventory import InventoryServiceClient
        from microservices.clients.orders import OrderServiceClient
        from microservices.clients.payments import PaymentServiceClient
        from microservices.clients.testing import services_settings_for
        from microservices.clients.users import UserServiceClient
        from microservices.request_id import bind_request_id

        token = secrets.token_urlsafe(24)  # lives only in this process
        printer = CallPrinter(out)
        client_log = logging.getLogger("microservices.clients")
        client_log.addHandler(printer)
        client_log.setLevel(logging.INFO)
        client_log.propagate = False
        logging.getLogger("mock_services").setLevel(logging.WARNING)
        failures = 0
        with running_stubs(token) as stubs:
            conf = services_settings_for(
                {name: server.url for name, server in stubs.items()},
                token,
                base=settings.MICROSERVICES,
            )
            print(
                "Stubs: " + ", ".join(f"{n} {s.url}" for n, s in stubs.items()),
                file=out,
            )
            with override_settings(MICROSERVICES=conf), ExitStack() as clients:
                demo = Demo(
                    stubs=stubs,
                    users=clients.enter_context(UserServiceClient()),
                    orders=clients.enter_context(OrderServiceClient()),
                    payments=clients.enter_context(PaymentServiceClient()),
                    inventory=clients.enter_context(InventoryServiceClient()),
                    out=out,
                )
                for number, scene in enumerate(SCENES, 1):
                    if args.only and number not in args.only:
                        continue
                    # One id per scene, as if each were one inbound request to this service.
                    with bind_request_id() as request_id:
                        print(f"\n[{number}] {scene.title}  (request id {request_id})", file=out)
                        try:
                            scene.run(demo)
                        except Exception as exc:  # report every scene, then fail the run
                            failures += 1
                            print(f"    FAILED: {type(exc).__name__}: {exc}", file=out)
        client_log.removeHandler(printer)
    elapsed = time.perf_counter() - started
    verdict = "OK" if failures == 0 else f"FAILED ({failures} scene(s))"
    print(
        f"\nDemo finished: {verdict}, {printer.calls} service calls in {elapsed:.1f}s.",
        file=out,
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
