"""The playground's switch to the choreographed checkout in a real browser: the same order
placed with no orchestrator, its participants in the playground's consumer, the same stubs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from browser_tests.conftest import PageWatch, shoot
from browser_tests.playground_steps import SAGA_TIMEOUT_MS, log_in
from project.playground.spawn import PlaygroundInfo, playground_process


@pytest.fixture(scope="module")
def playground() -> Iterator[PlaygroundInfo]:
    with playground_process() as info:
        yield info


def _checkout(page: Page, card: str) -> None:
    page.check("#flow-choreographed")
    page.check(f"input[name=card][value={card}]")
    page.click("#place-order")
    expect(page.locator("#order-note")).to_contain_text("the participants take it from here")


def test_a_choreographed_order_completes_and_a_declined_one_is_compensated(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    _checkout(page, "tok_visa")
    expect(page.locator("#checkout-status")).to_have_text("completed", timeout=SAGA_TIMEOUT_MS)
    expect(page.locator("#checkout-events tr")).to_have_count(5)
    expect(page.locator("#checkout-charges")).to_have_text("captured")
    shoot(page, page_watch, "choreographed-completed")

    _checkout(page, "tok_declined")
    expect(page.locator("#checkout-status")).to_have_text("compensated", timeout=SAGA_TIMEOUT_MS)
    expect(page.locator("#checkout-error")).to_contain_text("payment declined")
    events = page.locator("#checkout-events tr td:first-child")
    expect(events).to_have_text(
        [
            "checkout.requested",
            "checkout.customer_verified",
            "checkout.stock_reserved",
            "checkout.payment_failed",
            "checkout.stock_released",
        ]
    )
    shoot(page, page_watch, "choreographed-declined-compensated")
