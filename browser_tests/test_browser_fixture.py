"""The page fixture itself: it refuses what leaves the machine and reports console errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from browser_tests.conftest import PageWatch, shoot, watched_page

PAGE = b"""<!doctype html><html><head><title>probe</title></head><body>
<svg id="drawn" width="40" height="40"><circle cx="20" cy="20" r="10"/></svg>
<script>
if (location.search.includes("outside")) {
  fetch("http://example.invalid/tracker.js").catch(function () {});
}
if (location.search.includes("error")) { console.error("broken on purpose"); }
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def local_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


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
