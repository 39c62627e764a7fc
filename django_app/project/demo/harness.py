"""What every scene runs on: the stubs, one client per service, the call printer and the runner.

Imported once Django is set up (see `__main__.py`). A scene is a function of a `Demo`; `run()`
gives each scene its own request id, prints its heading and reports its failure without
stopping the others.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

import project.demo
from microservices.clients.testing import services_settings_for
from microservices.request_id import bind_request_id
from microservices.sagas.mermaid import saga_to_mermaid
from mock_services.testing import StubServer
from shop.clients.inventory import InventoryServiceClient
from shop.clients.orders import OrderServiceClient
from shop.clients.payments import PaymentServiceClient
from shop.clients.users import UserServiceClient
from shop.order_processing import ORDER_PROCESSING

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
        # Off in scenes that print a summary of their own (the sagas' step logs).
        self.echo = True

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        if fields.get("event") == "call":
            self.calls += 1
        if not self.echo:
            return
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

    def check(self, what: str, actual: object, expected: object) -> None:
        """An invariant of the scene: printed when it holds, the scene fails when it does not."""
        if actual != expected:
            raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
        self.say(f"✓ {what}")


@dataclass(frozen=True)
class Scene:
    title: str
    run: Callable[[Demo], None]
    # Print one line per service call (the saga scenes show their step log instead).
    show_calls: bool = True


@contextmanager
def running_stubs(token: str) -> Iterator[dict[str, StubServer]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(StubServer(name, token)) for name in SERVICES}


def run(scenes: Sequence[Scene], argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """The command line: list the scenes, print the saga's Mermaid, or run the scenes in order."""
    parser = argparse.ArgumentParser(
        prog="python -m project.demo", description=project.demo.__doc__
    )
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scene numbers")
    parser.add_argument(
        "--mermaid", action="store_true", help="print the order saga as Mermaid and exit"
    )
    args = parser.parse_args(argv)
    if args.list:
        for number, scene in enumerate(scenes, 1):
            print(f"{number}. {scene.title}", file=out)
        return 0
    if args.mermaid:
        print(saga_to_mermaid(ORDER_PROCESSING, direction="LR"), end="", file=out)
        return 0

    started = time.perf_counter()
    call_command("migrate", run_syncdb=True, verbosity=0)
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
        print("Stubs: " + ", ".join(f"{n} {s.url}" for n, s in stubs.items()), file=out)
        with override_settings(MICROSERVICES=conf), ExitStack() as clients:
            demo = Demo(
                stubs=stubs,
                users=clients.enter_context(UserServiceClient()),
                orders=clients.enter_context(OrderServiceClient()),
                payments=clients.enter_context(PaymentServiceClient()),
                inventory=clients.enter_context(InventoryServiceClient()),
                out=out,
            )
            for number, scene in enumerate(scenes, 1):
                if args.only and number not in args.only:
                    continue
                # One id per scene, as if each were one inbound request to this service.
                with bind_request_id() as request_id:
                    print(f"\n[{number}] {scene.title}  (request id {request_id})", file=out)
                    printer.echo = scene.show_calls
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
