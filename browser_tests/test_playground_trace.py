"""The playground's trace view in a real browser: two orders placed through the page, the first
selected again from the recent sagas, and its trace drawn as a waterfall from the spans the
playground's processes exported (the server's request, the worker's saga run, steps and calls,
the relay's publishes, the consumer's handling); no text sticks out of the drawing."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from browser_tests.conftest import PageWatch, shoot
from browser_tests.playground_steps import FORWARD, SAGA_TIMEOUT_MS, log_in, place, wait_status
from project.playground.spawn import PlaygroundInfo

SAGA = "saga order_processing"
# Every text element of the waterfall whose box leaves the SVG's box.
OVERFLOWING = """svg => {
    const frame = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()])
      .filter(([, r]) => r.left < frame.left - 0.5 || r.right > frame.right + 0.5)
      .map(([text]) => text);
}"""


def test_the_selected_order_s_trace_is_drawn_as_a_waterfall(
    page: Page, page_watch: PageWatch, playground: PlaygroundInfo
) -> None:
    log_in(page, page_watch, playground)
    first = place(page, "tok_visa")
    wait_status(page, "completed")
    # The second order inline: `place` reads the note, which still says the first was accepted.
    page.check("input[name=card][value=tok_declined]")
    page.click("#place-order")
    expect(page.locator("#saga-id")).not_to_have_text(first)
    wait_status(page, "compensated", "failed")
    page.locator("#recent-sagas a", has_text=first).click()
    expect(page.locator("#saga-id")).to_have_text(first)
    waterfall = page.locator("#trace-waterfall svg.trace-waterfall")
    last_step = waterfall.locator(f'g.span[data-name="{SAGA} step {FORWARD[-1]}"]')
    expect(last_step).to_have_count(1, timeout=SAGA_TIMEOUT_MS)
    names = waterfall.locator("g.span").evaluate_all("gs => gs.map(g => g.dataset.name)")
    # the server span of the request that placed it (named by its route, as Django spells it)
    assert names[0] == "POST api/orders"
    assert [n.removeprefix(f"{SAGA} step ") for n in names if n.startswith(f"{SAGA} step ")] == (
        FORWARD
    )
    assert "POST payments /payments" in names
    assert "POST inventory /reservations" in names
    assert any(name.startswith("publish ") for name in names)
    # This order's trace only: the declined one's compensations are not in it.
    assert [n for n in names if " compensation " in n] == []
    assert waterfall.evaluate(OVERFLOWING) == []
    page.locator("#trace-waterfall").screenshot(
        path=str(page_watch.screenshots / "trace-waterfall.png")
    )
    shoot(page, page_watch, "trace-selected")
