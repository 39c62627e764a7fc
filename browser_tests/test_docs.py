"""The docs site in Chromium: each page's diagram is drawn, offline, with no console error.

The site is built as `make docs` builds it (mkdocs build --strict) into a temp dir and served
on a free port of 127.0.0.1; the `page` fixture fails the test on a console error, a page
error or any request leaving this machine, and leaves a screenshot of the page.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_tests.conftest import served, shoot
from browser_tests.test_report import OVERFLOWING

ROOT = Path(__file__).resolve().parent.parent

# page, its diagram's container, a label the drawing must show, nodes (boxes) it draws at least
PAGES = [
    ("architecture.html", "#architecture-diagram", "django_interlink/", 12),
    ("sagas.html", "#saga-diagram", "NEEDS_ATTENTION", 12),
    ("events.html", "#events-diagram", "dead letters", 8),
]


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("docs-site")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        check=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(mkdocs.parent)},
    )
    with served(site) as base:
        yield base


@pytest.mark.parametrize(
    ("path", "container", "label", "nodes"), PAGES, ids=[p[0].removesuffix(".html") for p in PAGES]
)
def test_docs_page_draws_its_diagram_offline(
    page, page_watch, docs_site, path: str, container: str, label: str, nodes: int
):
    """The inlined SVG is in the page, laid out at a readable size, its boxes and labels drawn."""
    page.goto(docs_site + path)
    page.wait_for_load_state("networkidle")
    svg = page.locator(f"{container} svg")
    assert svg.count() == 1
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] > 400
    assert box["height"] > 250
    assert page.locator(f"{container} svg g.node").count() >= nodes
    assert page.locator(f"{container} svg polyline.edge").count() >= nodes - 2
    assert page.locator(f"{container} svg text", has_text=label).count() >= 1
    # Every arrowhead a line names is defined in the page (an SVG inlined without its <defs>
    # would draw lines without heads).
    heads = page.eval_on_selector_all(
        f"{container} svg polyline.edge",
        "lines => lines.every(l => document.querySelector("
        "l.getAttribute('marker-end').slice(4, -1)) !== null)",
    )
    assert heads is True
    svg.scroll_into_view_if_needed()
    svg.screenshot(path=str(page_watch.screenshots / "diagram.png"))
    shoot(page, page_watch, path.removesuffix(".html"))


def test_docs_navigation_works_offline(page, page_watch, docs_site):
    """Material's own scripts run with nothing from outside: the nav links to every page."""
    page.goto(docs_site + "index.html")
    page.wait_for_load_state("networkidle")
    titles = page.locator("nav.md-nav--primary a.md-nav__link").all_inner_texts()
    for title in ("Architecture", "Saga orchestration", "Failure scenarios", "Running it"):
        assert any(title in t for t in titles), titles
    page.click("text=Saga orchestration")
    page.wait_for_load_state("networkidle")
    assert page.title().startswith("Saga orchestration")


def test_failure_scenarios_show_each_scene_text_and_unclipped_recorded_scenes(
    page, page_watch, docs_site
):
    """docs/failures.md includes each scene's text from docs/scenes/ (the report shows the
    same file) and draws the recorded scenes with their replay marked, no text outside them."""
    page.goto(docs_site + "failures.html")
    page.wait_for_load_state("networkidle")
    assert page.locator("p", has_text="What fails:").count() >= 11
    sequences = page.locator("svg.sequence-diagram")
    assert sequences.count() == 2  # the lost response and the crash, as recorded
    assert page.locator("svg.sequence-diagram text.replay-note").count() == 2
    assert page.evaluate(OVERFLOWING) == []
    sequences.first.scroll_into_view_if_needed()
    sequences.first.screenshot(path=str(page_watch.screenshots / "lost-response-sequence.png"))
