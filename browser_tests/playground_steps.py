"""The playground's steps as the browser tests take them: log in, place an order, wait for a
status, read the steps table and the stubs' own request logs."""

from __future__ import annotations

import re
from typing import Any

import requests
from playwright.sync_api import Page, expect

from browser_tests.conftest import PageWatch
from project.playground.spawn import PlaygroundInfo

SAGA_TIMEOUT_MS = 30_000
FORWARD = [
    "validate_user",
    "reserve_inventory",
    "process_payment",
    "create_order",
    "send_confirmation",
]


def log_in(page: Page, watch: PageWatch, info: PlaygroundInfo) -> None:
    page.goto(info.url)
    expect(page).to_have_url(re.compile(r"/playground/login/"))
    page.fill("#id_username", info.username)
    page.fill("#id_password", info.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#place-order")).to_be_visible()
    # The polls have filled the worker's panel: the page talks to its feeds.
    expect(page.locator("#worker-status")).to_contain_text("running")


def place(page: Page, card: str) -> str:
    page.check(f"input[name=card][value={card}]")
    page.click("#place-order")
    expect(page.locator("#order-note")).to_contain_text("Accepted (202)")
    saga_id = page.locator("#saga-id").inner_text()
    expect(page.locator("#api-location")).to_have_text(f"/api/orders/{saga_id}")
    return saga_id


def wait_status(page: Page, status: str, api_status: str | None = None) -> None:
    """The saga's status in the engine's words, and in the orders API's (GET Location)."""
    expect(page.locator("#saga-status")).to_have_attribute(
        "data-status", status, timeout=SAGA_TIMEOUT_MS
    )
    expect(page.locator("#api-status")).to_have_attribute(
        "data-status", api_status or status, timeout=SAGA_TIMEOUT_MS
    )


def steps_of(page: Page, direction: str) -> list[str]:
    return page.locator(f"#steps tr[data-direction={direction}] td.step-name").all_inner_texts()


def stub_requests(info: PlaygroundInfo, service: str, **params: str) -> list[dict[str, Any]]:
    response = requests.get(
        info.stubs[service] + "/__control/requests",
        params=params,
        headers={"Authorization": f"Bearer {info.token}"},
        timeout=5,
    )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def kill_after_the_charge(page: Page) -> str:
    """Arm the kill switch, place an order with a good card: the worker dies (SIGKILL) just
    after the charge, a new one is started, and the saga completes. Returns the saga id."""
    started = int(page.locator("#worker-status").get_attribute("data-started") or "0")
    page.click("#arm-kill")
    expect(page.locator("#worker-status")).to_have_attribute("data-armed", "yes")
    saga_id = place(page, "tok_visa")
    expect(page.locator("#worker-exits li").last).to_contain_text(
        "SIGKILL) at after_action:process_payment", timeout=SAGA_TIMEOUT_MS
    )
    wait_status(page, "completed")
    expect(page.locator("#worker-status")).to_have_attribute("data-started", str(started + 1))
    return saga_id
