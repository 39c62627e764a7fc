"""The page fixture itself: it refuses what leaves the machine and reports console errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browser_tests.conftest import PageWatch, served, shoot, watched_page

PAGE = b"""<!doctype html><html><head><title>probe</title></head><body>
<svg id="drawn" width="40" height="40"><circle cx="20" cy="20" r="10"/></svg>
<script>
if (location.search.includes("outside")) {
  fetch("http://example.invalid/tracker.js").catch(function () {});
}
if (location.search.includes("error")) { console.error("broken on purpose"); }
</script></body></html>"""


@pytest.fixture
def local_site(tmp_path) -> Iterator[str]:
    (tmp_path / "index.html").write_bytes(PAGE)
    with served(tmp_path) as base:
        yield base


def _visit(browser, watch: PageWatch, url: str) -> PageWatch:
    with watched_page(browser, watch) as page:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.locator("svg#drawn circle").count() == 1
    return watch


def test_a_local_page_passes_and_leaves_a_screenshot(page, page_watch, local_site):
    page.goto(local_site)
    assert page.locator("svg#drawn circle").count() == 1
    path = shoot(page, page_watch, "probe")
    assert path.stat().st_size > 0


def test_a_request_off_the_machine_is_refused_and_recorded(browser, page_watch, local_site):
    watch = _visit(browser, page_watch, local_site + "?outside")
    assert watch.outside_requests == ["http://example.invalid/tracker.js"]


def test_a_console_error_is_recorded(browser, page_watch, local_site):
    watch = _visit(browser, page_watch, local_site + "?error")
    assert watch.console_errors == ["broken on purpose"]
