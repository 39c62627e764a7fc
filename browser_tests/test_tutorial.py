"""docs/tutorial.md in a real browser: one test per step of Part 1, doing what the step says
and checking what it says you will see, and Part 2's last step on a copy of the project changed
as the tutorial says. The playground runs as `make playground` runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from browser_tests.conftest import PageWatch, shoot
from browser_tests.playground_steps import (
    FORWARD,
    SAGA_TIMEOUT_MS,
    kill_after_the_charge,
    log_in,
    place,
    steps_of,
    wait_status,
)
from project.playground.spawn import PlaygroundInfo, playground_process
from tools import tutorial


@pytest.fixture(scope="module")
def playground() -> Iterator[PlaygroundInfo]:
    with playground_process() as info:
        yield info


def _fault_on_payments(page: Page, kind: str, times: int) -> None:
    """Step 3 and 4's form: service payments, operation POST /payments, the kind, Times."""
    page.select_option("#fault-service", "payments")
    page.select_option("#fault-operation", "POST /payments")
    page.select_option("#fault-kind", kind)
    page.fill("#fault-times", str(times))
    page.click("#add-fault")
    expect(page.locator("#fault-note")).to_contain_text("Fault added on payments")
    expect(page.locator("#faults-list tr")).to_have_count(1)


def _clear_faults(page: Page) -> None:
    page.click("#clear-faults")
    expect(page.locator("#faults-list tr")).to_have_count(0)


def _attempts(page: Page, step: str) -> list[str | None]:
    rows = page.locator(f"#steps tr[data-step={step}][data-direction=action]")
    return [rows.nth(i).get_attribute("data-outcome") for i in range(rows.count())]


def _payment_attempt_boxes(page: Page) -> Locator:
    """The retry layers' drawing: one box per attempt of process_payment, `data-requests` the
    requests the stub received in it."""
    layer = page.locator("#layers-list .layer[data-step=process_payment][data-direction=action]")
    return layer.locator(".attempt-box")


def _undone(page: Page) -> list[str | None]:
    """The compensations list: the steps undone, in the order they ran."""
    return [li.get_attribute("data-step") for li in page.locator("#compensations li").all()]


def _refunds(page: Page) -> Locator:
    """The saga's refund calls in the calls table (an undo of an ABSENT charge makes none)."""
    return page.locator("#calls-list tr[data-service=payments]", has_text="/refund")


def test_step_1_an_order_completes_and_its_timeline_shows_five_steps(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """202 at once; then completed, five forward steps, no undo, one charge, events handled."""
    log_in(page, page_watch, playground)
    place(page, "tok_visa")
    expect(page.locator("#api-status")).not_to_have_attribute("data-status", "")
    wait_status(page, "completed")
    assert steps_of(page, "action") == FORWARD
    assert steps_of(page, "compensation") == []
    expect(page.locator("#timeline svg.saga-timeline")).to_be_visible()
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    for event_type in ("payment.processed", "order.created"):
        row = page.locator(f"#events-list tr[data-event-type='{event_type}']")
        expect(row.locator("td.outbox")).to_have_text("sent", timeout=SAGA_TIMEOUT_MS)
        expect(row.locator("td.bus")).to_have_text("carried")
    order_created = page.locator("#events-list tr[data-event-type='order.created'] td.inbox")
    expect(order_created).to_have_text(
        "orders.statistics_and_stock_check ✓", timeout=SAGA_TIMEOUT_MS
    )
    shoot(page, page_watch, "tutorial-1-completed")


def test_step_2_a_declined_card_is_undone_newest_first(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """API failed, saga compensated; the payment rejected once; undo: payment, then stock."""
    log_in(page, page_watch, playground)
    place(page, "tok_declined")
    wait_status(page, "compensated", "failed")
    assert steps_of(page, "action") == ["validate_user", "reserve_inventory", "process_payment"]
    assert _attempts(page, "process_payment") == ["rejected"]
    assert _undone(page) == [
        "process_payment",
        "reserve_inventory",
    ]
    expect(page.locator("#saga-error")).to_contain_text("payment declined")
    expect(page.locator("#charges")).to_have_attribute("data-count", "0")
    expect(_refunds(page)).to_have_count(0)
    undo_note = page.locator("#compensations li[data-step=process_payment] .undo-note")
    expect(undo_note).to_contain_text("made no call: the action's outcome is ABSENT")
    shoot(page, page_watch, "tutorial-2-declined")


def test_step_3_a_503_that_ends_is_hidden_by_the_client_retries(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """Two 503s, then 201: three POSTs under one key inside one step attempt; one charge."""
    log_in(page, page_watch, playground)
    _fault_on_payments(page, "error", times=2)
    try:
        place(page, "tok_visa")
        wait_status(page, "completed")
        assert steps_of(page, "action") == FORWARD
        assert _attempts(page, "process_payment") == ["succeeded"]
        expect(page.locator("#payment-posts")).to_have_attribute("data-count", "3")
        expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
        expect(page.locator("#charges")).to_have_attribute("data-count", "1")
        expect(page.locator("#faults-list td.hits")).to_have_text("2")
        expect(_payment_attempt_boxes(page)).to_have_count(1)
        expect(_payment_attempt_boxes(page).first).to_have_attribute("data-requests", "3")
        shoot(page, page_watch, "tutorial-3-503-twice")
    finally:
        _clear_faults(page)


def test_step_4_a_503_that_never_ends_fails_the_step_and_undoes_the_order(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """Five step attempts of four requests each; the charge's undo sends nothing (ABSENT)."""
    log_in(page, page_watch, playground)
    _fault_on_payments(page, "error", times=0)
    try:
        place(page, "tok_visa")
        wait_status(page, "compensated", "failed")
        assert _attempts(page, "process_payment") == ["failed"] * 5
        expect(page.locator("#payment-posts")).to_have_attribute("data-count", "20")
        expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
        assert _undone(page) == [
            "process_payment",
            "reserve_inventory",
        ]
        expect(page.locator("#charges")).to_have_attribute("data-count", "0")
        expect(_refunds(page)).to_have_count(0)
        boxes = _payment_attempt_boxes(page)
        expect(boxes).to_have_count(5)
        assert [boxes.nth(i).get_attribute("data-requests") for i in range(5)] == ["4"] * 5
        shoot(page, page_watch, "tutorial-4-503-forever")
    finally:
        _clear_faults(page)


def test_step_5_a_lost_response_is_replayed_and_charged_once(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """The charge is made, its answer lost: two POSTs under one key, one charge."""
    log_in(page, page_watch, playground)
    _fault_on_payments(page, "lost_response", times=1)
    try:
        place(page, "tok_visa")
        wait_status(page, "completed")
        expect(page.locator("#payment-posts")).to_have_attribute("data-count", "2")
        expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
        expect(page.locator("#charges")).to_have_attribute("data-count", "1")
        shoot(page, page_watch, "tutorial-5-lost-response")
    finally:
        _clear_faults(page)


def test_step_6_a_worker_killed_after_the_charge_is_replaced_and_resumes(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    """The worker dies after the charge; another resumes once the lease lapses; one charge."""
    log_in(page, page_watch, playground)
    kill_after_the_charge(page)
    assert _attempts(page, "process_payment") == ["interrupted", "succeeded"]
    expect(page.locator("#payment-posts")).to_have_attribute("data-count", "2")
    expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    shoot(page, page_watch, "tutorial-6-worker-killed")


@pytest.fixture
def extended_playground(tmp_path: Path) -> Iterator[PlaygroundInfo]:
    """The playground of a copy of the project changed as Part 2 says (steps 8 and 11). A test
    names it before `page`, so the page is closed before this server stops."""
    project = tutorial.project_copy(tmp_path / "project")
    tutorial.add_shipping_step(project)
    tutorial.add_packing_handler(project)
    with playground_process(project) as info:
        yield info


def test_step_12_the_new_step_and_the_packing_slip_show_in_the_playground(
    extended_playground: PlaygroundInfo, page: Page, page_watch: PageWatch
) -> None:
    """Part 2 applied: reserve_shipping runs between the stock and the charge, order.created
    reaches both handlers, and a declined card gives the courier slot back."""
    log_in(page, page_watch, extended_playground)
    expect(page.locator("#order-form label.item", has_text="Courier slot")).to_have_count(1)
    place(page, "tok_visa")
    wait_status(page, "completed")
    assert steps_of(page, "action") == [*FORWARD[:2], "reserve_shipping", *FORWARD[2:]]
    handlers = page.locator("#events-list tr[data-event-type='order.created'] td.inbox")
    expect(handlers).to_have_text(
        "orders.statistics_and_stock_check ✓, shipping.packing_slip ✓", timeout=SAGA_TIMEOUT_MS
    )
    shoot(page, page_watch, "tutorial-12-packing-slip")
    place(page, "tok_declined")
    wait_status(page, "compensated", "failed")
    assert _undone(page) == [
        "process_payment",
        "reserve_shipping",
        "reserve_inventory",
    ]
    shoot(page, page_watch, "tutorial-12-declined")
