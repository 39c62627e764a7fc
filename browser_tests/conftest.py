"""Headless Chromium for the page tests: Debian's browser, driven by Playwright, kept offline.

Playwright's own browser download cannot work here, so the browser is the one at `CHROMIUM`
(default `/usr/bin/chromium`, Debian's package; `.ci/run` installs it). Without it the tests
skip, unless `REQUIRE_REAL_SERVICES` names `chromium`, as CI does: then they fail.

Every `page` is watched: a request to anything but this machine is refused and recorded, and
the test fails on it, on a console error or on an uncaught page error. Each page leaves a
screenshot of where it ended under `reports/screenshots/<test>/` (more with `shoot()`).
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from project.playground.spawn import PlaygroundInfo, playground_process

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "reports" / "screenshots"


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def served(folder: Path) -> Iterator[str]:
    """The files of `folder` over HTTP on a free port of 127.0.0.1: the base URL, ending in /."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _required() -> bool:
    names = os.environ.get("REQUIRE_REAL_SERVICES", "")
    return "chromium" in {n.strip().lower() for n in names.split(",")}


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    if parts.scheme == "file":
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


@dataclass
class PageWatch:
    """What a page did that a test must know of: errors on its console, requests off-machine."""

    screenshots: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    shots: int = 0

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"request left this machine: {u}" for u in self.outside_requests]
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
        if _required():
            pytest.fail(f"{reason} [chromium is required by REQUIRE_REAL_SERVICES]")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page_watch(request: pytest.FixtureRequest) -> PageWatch:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = SCREENSHOTS / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return PageWatch(screenshots=folder)


@pytest.fixture(scope="session")
def playground() -> Iterator[PlaygroundInfo]:
    """`make playground` in a child process, shared by the playground's test modules (each test
    places its own orders)."""
    with playground_process() as info:
        yield info


@contextmanager
def watched_page(
    browser: Browser, watch: PageWatch, *, width: int = 1280, height: int = 900
) -> Iterator[Page]:
    """A fresh page in its own context, its console errors and outside requests put in `watch`."""
    context = browser.new_context(viewport={"width": width, "height": height})

    def guard(route: Route) -> None:
        url = route.request.url
        if _is_local(url):
            route.continue_()
        else:
            watch.outside_requests.append(url)
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)

    context.route("**/*", guard)
    new_page = context.new_page()
    new_page.on("console", on_console)
    new_page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    try:
        yield new_page
        shoot(new_page, watch, "final")
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, page_watch: PageWatch) -> Iterator[Page]:
    """A watched page; the test fails on a console or page error or a request off the machine."""
    with watched_page(browser, page_watch) as new_page:
        yield new_page
    assert not page_watch.problems(), "\n".join(page_watch.problems())


def shoot(page: Page, watch: PageWatch, label: str) -> Path:
    """A full-page screenshot, numbered in the order taken, under the test's folder."""
    watch.shots += 1
    path = watch.screenshots / f"{watch.shots:02d}-{label}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
