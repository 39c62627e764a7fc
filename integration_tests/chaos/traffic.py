"""The traffic of a chaos run: order sagas stored at a steady pace by a thread, as the orders
API stores them, one every `interval` seconds, through a database outage too.

Every fifth buyer's mail bounces (settings.py), so that saga fails at its last step and undoes
its charge; every tenth card is declined, so that one undoes its reservations only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection
from tests.shop.failing_email import BOUNCING
from tests.shop.support import Shop, two_items

from django_interlink.sagas.services import saga_create
from shop.order_processing import ORDER_PROCESSING, build_order_context

BUYERS = 5  # the last one's mail bounces


@dataclass(frozen=True)
class Order:
    saga_id: str
    context: dict[str, Any]
    # Nothing of the order itself makes it fail (its buyer's mail, its card): it completes
    # once the services can be reached.
    plain: bool


def orders(shop: Shop, count: int, prefix: str) -> list[Order]:
    """`count` order sagas of two items each, on products with stock to spare."""
    widget = shop.product(10_000, sku=f"{prefix.upper()}-W")
    gadget = shop.product(10_000, sku=f"{prefix.upper()}-G")
    emails = [f"buyer{n}@example.com" for n in range(BUYERS - 1)] + [f"{BOUNCING}@example.com"]
    buyers = [shop.user(email=email) for email in emails]
    return [
        Order(
            f"{prefix}-{n:03d}",
            build_order_context(
                user_id=buyers[n % BUYERS],
                items=two_items(2, 1, widget_id=widget, gadget_id=gadget),
                payment_method="tok_declined" if n % 10 == 3 else "tok_visa",
            ),
            plain=n % BUYERS != BUYERS - 1 and n % 10 != 3,
        )
        for n in range(count)
    ]


class Feeder(threading.Thread):
    """Stores `orders` one every `interval` s; a database error is waited out and the same saga
    stored again (saga_create is idempotent on saga_id). `join_checked` re-raises its error."""

    def __init__(self, orders: list[Order], interval: float) -> None:
        super().__init__(name="chaos-feeder", daemon=True)
        self.orders = orders
        self.interval = interval
        self.created: dict[str, float] = {}  # saga_id -> time.time() it was stored
        self.database_errors = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            for order in self.orders:
                self._store(order)
                if self._halt.wait(self.interval):
                    return
        except BaseException as exc:  # handed to the test by join_checked
            self.error = exc
        finally:
            connection.close()  # this thread's own connection

    def _store(self, order: Order) -> None:
        while True:
            try:
                saga_create(
                    definition=ORDER_PROCESSING, saga_id=order.saga_id, context=order.context
                )
            except DatabaseError:
                self.database_errors += 1
                connection.close()  # the next try opens a new one
                if self._halt.wait(0.2):
                    raise
                continue
            self.created[order.saga_id] = time.time()
            return

    @property
    def done(self) -> bool:
        """Every order stored, or the feeder failed, or it was halted and has ended."""
        halted = self._halt.is_set() and not self.is_alive()
        return len(self.created) == len(self.orders) or self.error is not None or halted

    def halt(self, timeout: float = 30) -> None:
        """Store no more; returns once the thread has ended (its connection closed)."""
        self._halt.set()
        self.join(timeout)

    def join_checked(self, timeout: float = 30) -> None:
        self.halt(timeout)
        if self.error is not None:
            raise self.error
