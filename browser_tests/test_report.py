"""The demo report in headless Chromium: every scene's sequence diagram and trace waterfall and
every saga's timeline drawn, over a local HTTP server, with no console error and nothing
fetched from outside (the `page` fixture fails the test on either); no text sticks out of its
drawing; each scene says what it is about. Screenshots per scene."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browser_tests.conftest import PageWatch, served, shoot

REPO = Path(__file__).resolve().parent.parent
SAGA_SCENES = [7, 8, 9, 10]  # the four runs of the order saga
QUIET_SCENES = [6]  # the saga's state diagram: no call, no event, no sequence drawn
LOST_RESPONSE, CRASH, EVENTS = 5, 10, 11


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "django_app"), str(REPO)])
    return env


@pytest.fixture(scope="module")
def scene_count() -> int:
    """How many scenes the demo has (`--list`), so a new scene needs no edit here."""
    listed = subprocess.run(
        [sys.executable, "-m", "project.demo", "--list"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return len(listed.stdout.splitlines())


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo run once, its report written to a temp dir."""
    folder = tmp_path_factory.mktemp("demo-report")
    result = subprocess.run(
        [sys.executable, "-m", "project.demo", "--report", str(folder / "index.html")],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return folder


@pytest.fixture
def report_url(report_dir: Path) -> Iterator[str]:
    with served(report_dir) as base:
        yield base + "index.html"


def _drawn(page: Page, selector: str) -> list[dict[str, float]]:
    """Size, shape count and the widest drawn arrow of each SVG matching `selector`, as the
    browser laid them out."""
    result: list[dict[str, float]] = page.eval_on_selector_all(
        selector,
        """els => els.map(e => ({
            width: e.getBoundingClientRect().width,
            height: e.getBoundingClientRect().height,
            shapes: e.querySelectorAll('line, rect, path, text').length,
            arrows: e.querySelectorAll('g.interaction').length,
            widest: Math.max(0, ...[...e.querySelectorAll('g.interaction line')].map(
                l => l.getBoundingClientRect().width)),
        }))""",
    )
    return result


def test_report_draws_every_scene_sequence_and_every_saga_timeline(
    page: Page, page_watch: PageWatch, report_url: str, scene_count: int
) -> None:
    """Every scene, each passed, each with a laid-out sequence diagram whose arrows are drawn
    (the quiet one draws the saga's state diagram instead); the saga scenes with their
    timelines; one screenshot per scene."""
    page.goto(report_url)
    page.wait_for_load_state("networkidle")
    scenes = page.locator("section.scene")
    assert scenes.count() == scene_count
    assert (
        page.eval_on_selector_all("section.scene", "els => els.map(e => e.dataset.passed)")
        == ["true"] * scene_count
    )
    sequences = _drawn(page, "section.scene .diagram.sequence > svg.sequence-diagram")
    assert len(sequences) == scene_count - len(QUIET_SCENES)
    drawn = iter(sequences)
    for number in range(1, scene_count + 1):
        if number in QUIET_SCENES:
            continue
        seq = next(drawn)
        assert (number, seq["width"] > 150, seq["height"] > 40) == (number, True, True)
        assert (number, seq["arrows"] > 0, seq["widest"] > 50) == (number, True, True)
    for number in range(1, scene_count + 1):
        section = scenes.nth(number - 1)
        timelines = _drawn(page, f"section.scene:nth-of-type({number}) svg.saga-timeline")
        expected = 1 if number in SAGA_SCENES else 0
        assert (number, len(timelines)) == (number, expected)
        assert all(t["width"] > 300 and t["shapes"] > 10 for t in timelines)
        section.screenshot(path=str(page_watch.screenshots / f"scene-{number:02d}.png"))
    # Arrows that name what the brief asks for: an Idempotency-Key, an event id, a status.
    crash = scenes.nth(CRASH - 1)
    assert crash.locator("g.interaction.http text", has_text="Idempotency-Key").count() >= 2
    events = scenes.nth(EVENTS - 1)
    assert events.locator("g.interaction.event").count() >= 6
    assert events.locator('g.lifeline[data-name="dead letters"]').count() == 1
    shoot(page, page_watch, "report")


# Every text element of every SVG on the page whose box leaves its SVG's box (px, as laid out).
OVERFLOWING = """() => [...document.querySelectorAll('svg')].flatMap((svg, n) => {
    const frame = svg.getBoundingClientRect();
    const scene = svg.closest('section.scene');
    return [...svg.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()])
      .filter(([t, r]) => r.left < frame.left - 0.5 || r.right > frame.right + 0.5
                       || r.top < frame.top - 0.5 || r.bottom > frame.bottom + 0.5)
      .map(([t, r]) => `${scene ? scene.id : 'page'} svg ${n} (${svg.getAttribute('class')}): `
        + `"${t.textContent}" spans x ${r.left.toFixed(1)}-${r.right.toFixed(1)}, `
        + `y ${r.top.toFixed(1)}-${r.bottom.toFixed(1)}; the svg x ${frame.left.toFixed(1)}-`
        + `${frame.right.toFixed(1)}, y ${frame.top.toFixed(1)}-${frame.bottom.toFixed(1)}`);
})"""


@pytest.mark.parametrize("viewport_width", [1280, 800])
def test_no_text_of_any_drawing_sticks_out_of_it(
    page: Page, page_watch: PageWatch, report_url: str, viewport_width: int
) -> None:
    """Every SVG of the report (sequences, saga timelines, the state diagram): each text
    element's bounding box lies inside its SVG's, at full width and scaled down to fit 800 px."""
    page.set_viewport_size({"width": viewport_width, "height": 900})
    page.goto(report_url)
    page.wait_for_load_state("networkidle")
    assert page.locator("svg text").count() > 300
    assert page.evaluate(OVERFLOWING) == []
    for number in (2, LOST_RESPONSE, 6, CRASH, EVENTS):
        page.locator("section.scene").nth(number - 1).screenshot(
            path=str(page_watch.screenshots / f"scene-{number:02d}-at-{viewport_width}.png")
        )


def test_each_scene_says_what_it_is_about_and_marks_replays_steps_and_set_up(
    page: Page, page_watch: PageWatch, report_url: str, scene_count: int
) -> None:
    """What fails, what the system does, what the picture shows, and a link to the scene's
    section of the docs; the keyed retries answered from the store marked as replays; saga
    calls in step bands, set-up greyed; the state diagram in scene 6; scene 11 its own events."""
    page.goto(report_url)
    page.wait_for_load_state("networkidle")
    scenes = page.locator("section.scene")
    for number in range(1, scene_count + 1):
        section = scenes.nth(number - 1)
        assert section.locator("dl.about dt").all_inner_texts() == [
            "What fails",
            "What the system does",
            "What the picture shows",
        ]
        href = section.locator("p.docs-link a").get_attribute("href") or ""
        assert re.search(rf"/failures\.html#{number}-[a-z0-9-]+$", href), href
    lost = scenes.nth(LOST_RESPONSE - 1)
    replayed = lost.locator("g.interaction.replay text.replay-note")
    expect(replayed).to_have_count(1)
    expect(replayed).to_have_text(
        re.compile(
            r"^replayed: same Idempotency-Key as \+\d+ ms, answered from the stub's "
            r"idempotency store$"
        )
    )
    assert lost.locator("g.interaction.aside").count() == 2  # the stock read before and after
    crash = scenes.nth(CRASH - 1)
    expect(crash.locator("g.interaction.replay")).to_have_count(1)
    bands = crash.locator("g.band.action text").all_text_contents()
    assert "process_payment" in bands and "action #2 · worker B" in bands
    declined = scenes.nth(8 - 1)
    assert "reserve_inventory" in declined.locator("g.band.compensation text").all_text_contents()
    quiet = scenes.nth(QUIET_SCENES[0] - 1)
    assert quiet.locator(".diagram.figure svg g.node").count() >= 10
    events = scenes.nth(EVENTS - 1)
    expect(events.locator("g.interaction.event.rolled_back")).to_have_count(1)
    expect(events.locator("g.interaction.note", has_text="relay dies")).to_have_count(1)
    # Only this scene's events: the saga scenes' order.created and payment.processed are not.
    assert events.locator("g.interaction.event", has_text="order.created").count() == 0
    for number, name in ((LOST_RESPONSE, "replay"), (8, "bands"), (CRASH, "bands-replay")):
        scenes.nth(number - 1).locator(".diagram.sequence").screenshot(
            path=str(page_watch.screenshots / f"scene-{number:02d}-{name}.png")
        )
    scenes.nth(QUIET_SCENES[0] - 1).screenshot(
        path=str(page_watch.screenshots / "scene-06-state-diagram.png")
    )
    scenes.nth(EVENTS - 1).locator(".diagram.sequence").screenshot(
        path=str(page_watch.screenshots / "scene-11-own-events.png")
    )
    scenes.nth(0).locator("dl.about").screenshot(
        path=str(page_watch.screenshots / "scene-01-about.png")
    )


def test_each_scene_draws_its_trace_as_a_waterfall(
    page: Page, page_watch: PageWatch, report_url: str, scene_count: int
) -> None:
    """Every scene's trace drawn as a waterfall from its spans: the scene's own span on top,
    the crash scene's bars naming each saga step's attempts and the service calls they made,
    the events scene its publishes and handling; no bar name leaves the drawing (the test
    above checks every SVG); a screenshot of the crash scene's waterfall."""
    page.goto(report_url)
    page.wait_for_load_state("networkidle")
    waterfalls = page.locator("section.scene .diagram.waterfall > svg.trace-waterfall")
    assert waterfalls.count() == scene_count
    crash = page.locator("section.scene").nth(CRASH - 1).locator("svg.trace-waterfall")
    names = crash.locator("g.span").evaluate_all("gs => gs.map(g => g.dataset.name)")
    assert names[0] == "demo scene"
    steps = [n for n in names if n.startswith("saga order_processing step ")]
    assert steps == [
        "saga order_processing step validate_user",
        "saga order_processing step reserve_inventory",
        "saga order_processing step process_payment",
        "saga order_processing step process_payment",
        "saga order_processing step create_order",
        "saga order_processing step send_confirmation",
    ]
    assert "POST payments /payments" in names
    assert crash.locator("g.span.client").count() >= 5
    events = page.locator("section.scene").nth(EVENTS - 1).locator("svg.trace-waterfall")
    assert events.locator("g.span.producer").count() >= 1
    assert events.locator("g.span.consumer").count() >= 1
    crash.screenshot(path=str(page_watch.screenshots / f"scene-{CRASH:02d}-waterfall.png"))
