"""The playground page in a real browser: orders placed through the page (its script calls
POST /api/orders), faults switched on through it, and what it then shows; the playground runs
as `make playground` runs it (its own process, real server socket, real worker process, stubs
on real sockets)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from browser_tests.conftest import PageWatch, shoot
from browser_tests.playground_steps import (
    FORWARD,
    SAGA_TIMEOUT_MS,
    kill_after_the_charge,
    log_in,
    place,
    steps_of,
    stub_requests,
    wait_status,
)
from project.playground.spawn import PlaygroundInfo


def test_a_happy_order_completes_and_its_events_reach_the_inbox(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    shoot(page, page_watch, "logged-in")
    place(page, "tok_visa")
    wait_status(page, "completed")
    assert steps_of(page, "action") == FORWARD
    assert steps_of(page, "compensation") == []
    expect(page.locator("#timeline svg.saga-timeline")).to_be_visible()
    expect(page.locator("#admin-link")).to_have_attribute(
        "href", re.compile(r"^/admin/interlink/sagaexecution/\d+/change/$")
    )
    # outbox -> bus -> inbox: order.created is relayed, carried and handled.
    order_created = page.locator("#events-list tr[data-event-type='order.created']")
    expect(order_created.locator("td.outbox")).to_have_text("sent", timeout=SAGA_TIMEOUT_MS)
    expect(order_created.locator("td.bus")).to_have_text("carried")
    expect(order_created.locator("td.inbox")).to_have_text(
        "orders.statistics_and_stock_check ✓", timeout=SAGA_TIMEOUT_MS
    )
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    shoot(page, page_watch, "happy-completed")


def test_a_declined_card_is_compensated_in_reverse(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    place(page, "tok_declined")
    wait_status(page, "compensated", "failed")
    forward = steps_of(page, "action")
    assert forward == ["validate_user", "reserve_inventory", "process_payment"]
    expect(
        page.locator("#steps tr[data-step=process_payment][data-direction=action]")
    ).to_have_attribute("data-outcome", "rejected")
    undone = [li.get_attribute("data-step") for li in page.locator("#compensations li").all()]
    # Every forward step with an undo, newest first (validate_user has none).
    assert undone == ["process_payment", "reserve_inventory"]
    assert undone == [name for name in reversed(forward) if name != "validate_user"]
    expect(page.locator("#saga-error")).to_contain_text("declined")
    expect(page.locator("#charges")).to_have_attribute("data-count", "0")
    shoot(page, page_watch, "declined-compensated")


def test_a_lost_payment_response_is_retried_and_charged_once(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    page.select_option("#fault-service", "payments")
    page.select_option("#fault-operation", "POST /payments")
    page.select_option("#fault-kind", "lost_response")
    page.fill("#fault-times", "1")
    page.click("#add-fault")
    expect(page.locator("#fault-note")).to_contain_text("Fault added on payments")
    expect(page.locator("#faults-list tr")).to_have_count(1)
    shoot(page, page_watch, "fault-on")
    saga_id = place(page, "tok_visa")
    wait_status(page, "completed")
    assert steps_of(page, "action") == FORWARD
    # What the page shows: two POST /payments under one key, one charge in the stub.
    expect(page.locator("#payment-posts")).to_have_attribute("data-count", "2")
    expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    expect(page.locator("#charges")).to_contain_text("captured")
    expect(page.locator("#faults-list td.hits")).to_have_text("1")
    # The second POST is marked as the replay it was, pointing at the first one's time.
    replays = page.locator('#calls-list tr[data-replay="true"][data-service="payments"]')
    expect(replays).to_have_count(1)
    first_at = page.locator('#calls-list tr[data-service="payments"] td.at').first.inner_text()
    expect(replays.locator("td.replay")).to_have_text(
        f"replayed: same Idempotency-Key as {first_at}, answered from the stub's idempotency store"
    )
    page.locator("#calls").screenshot(path=str(page_watch.screenshots / "calls-replay-marked.png"))
    shoot(page, page_watch, "lost-response-charged-once")
    # The stub's own request log agrees: two arrivals, one Idempotency-Key, this saga's.
    posts = [
        r
        for r in stub_requests(playground, "payments", method="POST", path="/payments")
        if (r["idempotency_key"] or "").startswith(saga_id + ":")
    ]
    assert [r["idempotency_key"] for r in posts] == [f"{saga_id}:process_payment:action"] * 2
    page.click("#clear-faults")
    expect(page.locator("#faults-list tr")).to_have_count(0)


def test_the_worker_killed_after_the_charge_is_replaced_and_the_saga_resumed(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    kill_after_the_charge(page)
    expect(page.locator("#worker-status")).to_have_attribute("data-armed", "no")
    payment = page.locator("#steps tr[data-step=process_payment]")
    expect(payment).to_have_count(2)
    assert [payment.nth(i).get_attribute("data-outcome") for i in range(2)] == [
        "interrupted",
        "succeeded",
    ]
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    shoot(page, page_watch, "worker-killed-resumed")
