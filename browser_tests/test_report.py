"""The demo report in headless Chromium: every scene's sequence diagram and every saga's
timeline drawn, over a local HTTP server, with no console error and nothing fetched from
outside (the `page` fixture fails the test on either). Screenshots per scene."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from browser_tests.conftest import PageWatch, served, shoot

REPO = Path(__file__).resolve().parent.parent
SCENES = 11
SAGA_SCENES = [7, 8, 9, 10]  # the four runs of the order saga
QUIET_SCENES = [6]  # the saga's Mermaid drawing: no call, no event


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo run once, its report written to a temp dir."""
    folder = tmp_path_factory.mktemp("demo-report")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "django_app"), str(REPO)])
    result = subprocess.run(
        [sys.executable, "-m", "project.demo", "--report", str(folder / "index.html")],
        cwd=REPO,
        env=env,
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
    page: Page, page_watch: PageWatch, report_url: str
) -> None:
    """11 scenes, each passed, each with a laid-out sequence diagram whose arrows are drawn;
    the saga scenes with their timelines; one screenshot per scene."""
    page.goto(report_url)
    page.wait_for_load_state("networkidle")
    scenes = page.locator("section.scene")
    assert scenes.count() == SCENES
    assert (
        page.eval_on_selector_all("section.scene", "els => els.map(e => e.dataset.passed)")
        == ["true"] * SCENES
    )
    sequences = _drawn(page, "section.scene .diagram.sequence > svg.sequence-diagram")
    assert len(sequences) == SCENES
    for number, drawn in enumerate(sequences, 1):
        assert (number, drawn["width"] > 150, drawn["height"] > 40) == (number, True, True)
        if number not in QUIET_SCENES:
            assert (number, drawn["arrows"] > 0, drawn["widest"] > 50) == (number, True, True)
    for number in range(1, SCENES + 1):
        section = scenes.nth(number - 1)
        timelines = _drawn(page, f"section.scene:nth-of-type({number}) svg.saga-timeline")
        expected = 1 if number in SAGA_SCENES else 0
        assert (number, len(timelines)) == (number, expected)
        assert all(t["width"] > 300 and t["shapes"] > 10 for t in timelines)
        section.screenshot(path=str(page_watch.screenshots / f"scene-{number:02d}.png"))
    # Arrows that name what the brief asks for: an Idempotency-Key, an event id, a status.
    crash = scenes.nth(9)
    assert crash.locator("g.interaction.http text", has_text="Idempotency-Key").count() >= 2
    events = scenes.nth(10)
    assert events.locator("g.interaction.event").count() >= 6
    assert events.locator('g.lifeline[data-name="dead letters"]').count() == 1
    shoot(page, page_watch, "report")
