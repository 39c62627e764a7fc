"""The playground explains itself, in a real browser against `make playground`: each "Try this"
preset does what it says (checked on the page and in the stubs' own logs, not only by the page's
verdict), the lease of a dead worker is shown dead and its bar hatched, both retry layers are
drawn, API and saga status are told apart, dead letters are shown, and the page works 800 px
wide."""

from __future__ import annotations

from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from browser_tests.conftest import PageWatch, shoot, watched_page
from browser_tests.playground_steps import SAGA_TIMEOUT_MS, log_in, place, stub_requests
from project.playground.spawn import PlaygroundInfo

# The order saga's charge: PATIENT (5 attempts) in shop/order_processing.py; each call's client
# sends RETRY TOTAL 3 + 1 requests (django_interlink/conf.py's default, kept by the playground).
CHARGE_ATTEMPTS = 5
REQUESTS_PER_CALL = 4
TIMES = "\N{MULTIPLICATION SIGN}"
PAYMENT_LAYER = ".layer[data-step=process_payment][data-direction=action]"


def _run_preset(page: Page, name: str) -> str:
    """Click the preset called `name`; the saga id of the order it placed."""
    page.get_by_role("button", name=name, exact=True).click()
    expect(page.locator("#preset-result")).to_have_attribute("data-met", "pending")
    return page.locator("#saga-id").inner_text()


def _verdict(page: Page) -> Locator:
    result = page.locator("#preset-result")
    expect(result).to_have_attribute("data-met", "yes", timeout=SAGA_TIMEOUT_MS)
    expect(result).to_contain_text("✓ It happened")
    return result


def _payment_posts(info: PlaygroundInfo, saga_id: str) -> list[dict[str, object]]:
    return [
        r
        for r in stub_requests(info, "payments", method="POST", path="/payments")
        if str(r["idempotency_key"] or "").startswith(saga_id + ":")
    ]


def test_declined_card_is_compensated_and_the_undo_says_why_it_made_no_call(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    saga_id = _run_preset(page, "declined card")
    _verdict(page)
    expect(page.locator("#saga-status")).to_have_attribute("data-status", "compensated")
    expect(page.locator("#api-status")).to_have_attribute("data-status", "failed")
    # API status against saga status: the row of this saga's status is marked, and says failed.
    current = page.locator("#statuses tr.current")
    expect(current).to_have_attribute("data-saga-status", "compensated")
    expect(current.locator("td").nth(1)).to_have_text("failed")
    expect(page.locator("#statuses")).to_contain_text("did my order happen?")
    # The payment's undo made no call, and says why; the inventory's undo did call.
    undo = page.locator("#compensations li[data-step=process_payment] .undo-note")
    expect(undo).to_contain_text("made no call: the action's outcome is ABSENT")
    expect(undo).to_contain_text("nothing to undo")
    expect(page.locator("#compensations li[data-step=reserve_inventory] .undo-note")).to_have_count(
        0
    )
    expect(
        page.locator("#calls-list tr[data-key^='reserve_inventory:compensation']")
    ).to_have_count(1)
    # The stub's own log agrees: the payment was asked once, never undone.
    keys = [r["idempotency_key"] for r in _payment_posts(playground, saga_id)]
    assert keys == [f"{saga_id}:process_payment:action"]
    refunds = [
        r
        for r in stub_requests(playground, "payments")
        if str(r["idempotency_key"] or "").startswith(f"{saga_id}:process_payment:compensation")
    ]
    assert refunds == []
    shoot(page, page_watch, "declined-card-verdict")


def test_503_twice_is_hidden_by_the_client_retries_inside_one_step_attempt(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    saga_id = _run_preset(page, f"503 {TIMES}2")
    _verdict(page)
    expect(page.locator("#saga-status")).to_have_attribute("data-status", "completed")
    layer = page.locator(PAYMENT_LAYER)
    expect(layer).to_have_attribute("data-attempts", "1")
    expect(layer).to_have_attribute("data-requests-per-call", str(REQUESTS_PER_CALL))
    expect(layer.locator(".layer-head")).to_contain_text(
        f"{CHARGE_ATTEMPTS} attempts {TIMES} {REQUESTS_PER_CALL} requests per call"
    )
    box = layer.locator(".attempt-box")
    expect(box).to_have_count(1)
    expect(box).to_have_attribute("data-status", "succeeded")
    expect(box.locator(".request:not(.spare)")).to_have_text(["503", "503", "201"])
    expect(box.locator(".request.spare")).to_have_count(REQUESTS_PER_CALL - 3)
    statuses = [r["status"] for r in _payment_posts(playground, saga_id)]
    assert statuses == [503, 503, 201]
    shoot(page, page_watch, "503-twice-one-attempt-three-requests")


def test_503_forever_spends_both_retry_layers_then_compensates(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    saga_id = _run_preset(page, "503 forever")
    _verdict(page)
    expect(page.locator("#saga-status")).to_have_attribute("data-status", "compensated")
    layer = page.locator(PAYMENT_LAYER)
    expect(layer).to_have_attribute("data-attempts", str(CHARGE_ATTEMPTS))
    boxes = layer.locator(".attempt-box")
    expect(boxes).to_have_count(CHARGE_ATTEMPTS)
    for i in range(CHARGE_ATTEMPTS):
        expect(boxes.nth(i)).to_have_attribute("data-requests", str(REQUESTS_PER_CALL))
        expect(boxes.nth(i)).to_have_attribute("data-status", "failed")
    posts = _payment_posts(playground, saga_id)
    assert len(posts) == CHARGE_ATTEMPTS * REQUESTS_PER_CALL
    assert {r["status"] for r in posts} == {503}
    # The never-ending fault is cleared once the saga has ended.
    expect(page.locator("#faults-list tr")).to_have_count(0)
    expect(page.locator("#compensations li[data-step=process_payment] .undo-note")).to_contain_text(
        "ABSENT"
    )
    shoot(page, page_watch, "503-forever-five-attempts-of-four")


def test_lost_response_makes_two_posts_and_one_charge(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    saga_id = _run_preset(page, "lost response")
    _verdict(page)
    expect(page.locator("#payment-posts")).to_have_attribute("data-count", "2")
    expect(page.locator("#payment-posts")).to_have_attribute("data-keys", "1")
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    rows = page.locator("#calls-list tr[data-service=payments] td.status")
    expect(rows).to_have_text(["— (no answer)", "201"])
    statuses = [r["status"] for r in _payment_posts(playground, saga_id)]
    assert statuses == [None, 201]
    shoot(page, page_watch, "lost-response-two-posts-one-charge")


# Evaluated in the page at once, so the lease and the drawing come from the same poll.
DEAD_AND_HATCHED = """() => {
  const lease = document.getElementById("lease");
  const bars = document.querySelectorAll("#timeline g.attempt");
  const last = bars[bars.length - 1];
  return lease.dataset.state === "dead-owner" && lease.dataset.alive === "no"
    && last !== undefined && last.classList.contains("interrupted")
    && last.querySelector("rect").getAttribute("fill") === "url(#interrupted)"
    && document.querySelectorAll("#timeline g.attempt.running").length === 0;
}"""


def test_kill_after_the_charge_shows_the_dead_worker_then_resumes(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    saga_id = _run_preset(page, "kill after the charge")
    # While the dead worker's lease has not lapsed: its owner is shown dead, the bar hatched.
    page.wait_for_function(DEAD_AND_HATCHED, timeout=SAGA_TIMEOUT_MS, polling=50)
    shoot(page, page_watch, "dead-worker-hatched")
    expect(page.locator("#lease-text")).to_contain_text("(dead) holds it until")
    dead = page.locator("#steps tr[data-step=process_payment] td.worker").first
    expect(dead).to_have_attribute("data-alive", "no")
    _verdict(page)
    expect(page.locator("#saga-status")).to_have_attribute("data-status", "completed")
    payment = page.locator("#steps tr[data-step=process_payment][data-direction=action]")
    expect(payment).to_have_count(2)
    assert [payment.nth(i).get_attribute("data-outcome") for i in range(2)] == [
        "interrupted",
        "succeeded",
    ]
    # Two workers: the one that died and the one that resumed.
    workers = page.locator("#steps tr[data-step=process_payment] td.worker")
    expect(workers.nth(0)).to_contain_text("(dead)")
    expect(workers.nth(1)).to_contain_text("(alive)")
    expect(page.locator("#lease")).to_have_attribute("data-state", "released")
    keys = {r["idempotency_key"] for r in _payment_posts(playground, saga_id)}
    assert keys == {f"{saga_id}:process_payment:action"}
    expect(page.locator("#charges")).to_have_attribute("data-count", "1")
    shoot(page, page_watch, "kill-after-charge-resumed")


def test_dead_letters_panel_is_visible_and_explained(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    panel = page.locator("#dead")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("An event the consumer gave up on")
    expect(panel.locator("a[href*='dead']")).to_be_visible()
    expect(page.locator("#dead-count")).to_have_attribute("data-count", "0")
    expect(page.locator("#dead-letters tr.empty")).to_contain_text("none")
    panel.scroll_into_view_if_needed()
    shoot(page, page_watch, "dead-letters-panel")


NO_OVERFLOW = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def _inside(page: Page, selector: str, width: int) -> None:
    target = page.locator(selector).first
    # The live feed may redraw the element between finding it and scrolling to it: find it again.
    for attempt in range(5):
        try:
            target.scroll_into_view_if_needed()
            break
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
    expect(target).to_be_visible()
    box = target.bounding_box()
    assert box is not None
    assert (selector, box["x"] >= 0, box["x"] + box["width"] <= width) == (selector, True, True)


def test_the_page_is_usable_800_px_wide(
    browser: Browser, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    width = 800
    with watched_page(browser, page_watch, width=width) as page:
        log_in(page, page_watch, playground)
        assert page.evaluate(NO_OVERFLOW)
        # A saga with every table filled, then the page again.
        place(page, "tok_declined")
        expect(page.locator("#saga-status")).to_have_attribute(
            "data-status", "compensated", timeout=SAGA_TIMEOUT_MS
        )
        expect(page.locator(PAYMENT_LAYER)).to_have_count(1)
        assert page.evaluate(NO_OVERFLOW)
        for selector in (
            "#place-order",
            "button.preset",
            "#add-fault",
            "#clear-faults",
            "#arm-kill",
            "#timeline svg",
            "#steps",
            "#layers-list",
        ):
            _inside(page, selector, width)
        shoot(page, page_watch, "800px")
    assert page_watch.problems() == []
