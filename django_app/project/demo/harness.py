"""What every scene runs on: the stubs, one client per service, the call printer and the runner.

Imported once Django is set up (see `__main__.py`). A scene is a function of a `Demo`; `run()`
gives each scene its own request id, prints its heading and reports its failure without
stopping the others.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

import project.demo
from django_interlink.clients.testing import services_settings_for
from django_interlink.request_id import bind_request_id
from django_interlink.sagas.mermaid import saga_to_mermaid
from mock_services.testing import StubServer
from project.demo.bootstrap import STACKS, Bootstrapped
from project.demo.recorder import Recorder
from project.demo.report.about import SceneText, load_scene_text
from project.demo.report.model import SceneRecording, dump_recording
from project.demo.report.page import render_report_html
from project.demo.stacks import EmbeddedStack, RealStack, Stack
from project.demo.traces import SceneTraces
from shop.clients.inventory import InventoryServiceClient
from shop.clients.orders import OrderServiceClient
from shop.clients.payments import PaymentServiceClient
from shop.clients.users import UserServiceClient
from shop.order_processing import ORDER_PROCESSING

REPO = Path(__file__).resolve().parents[3]
# One file per scene: what fails, what the system does, what the picture shows (see about.py).
SCENE_TEXTS = REPO / "docs" / "scenes"
# The docs' recorded scenes, drawn by `make diagrams` (tools/diagrams/catalogue.py).
DOCS_RECORDINGS = REPO / "docs" / "recordings"
# Where `make docs` builds the site the report links into.
DOCS_SITE = REPO / "build" / "site"
SERVICES = ("users", "orders", "payments", "inventory")
# The payments stub's test cards (documented in contracts/payments.yaml), not secrets.
CARD_OK = "tok_visa"
CARD_DECLINED = "tok_declined"


class CallPrinter(logging.Handler):
    """Prints the clients' log records as one aligned line per call (and per retry)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(level=logging.INFO)
        self.out = out
        self.calls = 0
        # Off in scenes that print a summary of their own (the sagas' step logs).
        self.echo = True

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        if fields.get("event") == "call":
            self.calls += 1
        if not self.echo:
            return
        if fields.get("event") == "retry":
            reason = fields.get("cause") or "an error"
            how = "Retry-After" if fields.get("retry_after") else "backoff"
            print(
                f"    ↻ {fields['service']}.{fields['operation']} retrying after {reason},"
                f" waiting {fields['wait_s']:.3f}s ({how})",
                file=self.out,
            )
            return
        if fields.get("event") != "call":
            return
        status = fields.get("status") or type(fields.get("error")).__name__
        attempts = fields.get("attempts", 1)
        print(
            f"  {fields['service']:<10} {fields['operation']:<20} {fields['request_id']}"
            f"  {status!s:>3}  {fields['duration_ms']:7.1f} ms"
            + (f"  ({attempts} attempts)" if attempts and attempts > 1 else ""),
            file=self.out,
        )


@dataclass
class Demo:
    """What scenes share: the stubs, one client per service, the stack the events and workers
    run on, the recorder of the scene, and the objects made so far."""

    stubs: dict[str, StubServer]
    users: UserServiceClient
    orders: OrderServiceClient
    payments: PaymentServiceClient
    inventory: InventoryServiceClient
    stack: Stack
    recorder: Recorder
    out: TextIO = sys.stdout
    state: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.out)

    def aside(self, label: str = "set-up") -> contextlib.AbstractContextManager[None]:
        """`with demo.aside():` around the calls that only prepare the scene (or read back
        what it did): the report greys them."""
        return self.recorder.aside(label)

    def check(self, what: str, actual: object, expected: object) -> None:
        """An invariant of the scene, recorded for the report: printed when it holds, the scene
        fails when it does not."""
        passed = actual == expected
        self.recorder.check(what, passed=passed, expected=expected, actual=actual)
        if not passed:
            raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
        self.say(f"✓ {what}")


class SceneOutput(io.StringIO):
    """The terminal, with a copy of what one scene printed kept for the report."""

    def __init__(self, terminal: TextIO) -> None:
        super().__init__()
        self.terminal = terminal

    def write(self, text: str) -> int:
        self.terminal.write(text)
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


@dataclass(frozen=True)
class Scene:
    title: str
    run: Callable[[Demo], None]
    # Print one line per service call (the saga scenes show their step log instead).
    show_calls: bool = True
    # Its text, docs/scenes/<about>.md: shown in its section of the report and of the docs.
    about: str | None = None

    def text(self) -> SceneText | None:
        return None if self.about is None else load_scene_text(SCENE_TEXTS / f"{self.about}.md")


@contextmanager
def running_stubs(token: str) -> Iterator[dict[str, StubServer]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(StubServer(name, token)) for name in SERVICES}


def default_report(stack: str) -> Path:
    return REPO / "reports" / ("demo" if stack == "embedded" else f"demo-{stack}") / "index.html"


def make_stack(
    setup: Bootstrapped,
    recorder: Recorder,
    stubs: dict[str, StubServer],
    token: str,
    traces: SceneTraces,
) -> Stack:
    if setup.stack == "embedded":
        return EmbeddedStack(recorder)
    # The relay, consumer and workers read this process's settings from the same environment.
    env = dict(os.environ)
    env.update({f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()})
    env["SERVICES_API_KEY"] = token
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "django_app"), str(REPO)])
    env.update(traces.environment())  # each process exports its spans to the collector
    return RealStack(recorder, env=env, mail_dir=setup.mail_dir, run_id=setup.run_id)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m project.demo", description=project.demo.__doc__
    )
    parser.add_argument("--list", action="store_true", help="list the scenes and exit")
    parser.add_argument("--only", type=int, nargs="*", help="run only these scene numbers")
    parser.add_argument(
        "--mermaid", action="store_true", help="print the order saga as Mermaid and exit"
    )
    parser.add_argument(
        "--stack",
        choices=STACKS,
        default="embedded",
        help="embedded (SQLite, memory bus, one process) or real (PostgreSQL, RabbitMQ, the"
        " relay, consumer and saga workers as processes); make demo STACK=real",
    )
    parser.add_argument(
        "--report",
        type=Path,
        help="where to write the HTML report (default reports/demo/index.html,"
        " reports/demo-real/index.html for the real stack)",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="also write each scene's recording as DIR/<scene>.json",
    )
    parser.add_argument(
        "--record-docs",
        action="store_true",
        help="also write each scene's recording as docs/recordings/<about>.json, the docs'"
        " recorded scenes (`make diagrams` then draws them); with --only, those scenes",
    )
    return parser.parse_args(argv)


def run(
    scenes: Sequence[Scene],
    argv: list[str] | None = None,
    out: TextIO = sys.stdout,
    *,
    setup: Bootstrapped,
) -> int:
    """The command line: list the scenes, print the saga's Mermaid, or run the scenes in order
    and write the report."""
    args = parse_args(argv)
    if args.list:
        for number, scene in enumerate(scenes, 1):
            print(f"{number}. {scene.title}", file=out)
        return 0
    if args.mermaid:
        print(saga_to_mermaid(ORDER_PROCESSING, direction="LR"), end="", file=out)
        return 0

    started = time.perf_counter()
    report_path = args.report or default_report(setup.stack)
    texts = {number: scene.text() for number, scene in enumerate(scenes, 1)}  # fails early
    call_command("migrate", run_syncdb=True, verbosity=0)
    token = secrets.token_urlsafe(24)  # lives only in this process (and the ones it starts)
    printer = CallPrinter(out)
    client_log = logging.getLogger("django_interlink.clients")
    client_log.addHandler(printer)
    client_log.setLevel(logging.INFO)
    client_log.propagate = False
    logging.getLogger("mock_services").setLevel(logging.WARNING)
    failures = 0
    traces = SceneTraces(_collector(setup.stack, report_path))
    with running_stubs(token) as stubs:
        recorder = Recorder(stubs, stack=setup.stack)
        client_log.addHandler(recorder.client_log)
        conf = services_settings_for(
            {name: server.url for name, server in stubs.items()},
            token,
            base=settings.INTERLINK,
        )
        where = "".join(f", {name} from {source}" for name, source in setup.servers.items())
        print(f"Stack: {setup.stack}{where}", file=out)
        print("Stubs: " + ", ".join(f"{n} {s.url}" for n, s in stubs.items()), file=out)
        with override_settings(INTERLINK=conf), ExitStack() as clients:
            stack = make_stack(setup, recorder, stubs, token, traces)
            clients.callback(stack.close)
            demo = Demo(
                stubs=stubs,
                users=clients.enter_context(UserServiceClient()),
                orders=clients.enter_context(OrderServiceClient()),
                payments=clients.enter_context(PaymentServiceClient()),
                inventory=clients.enter_context(InventoryServiceClient()),
                stack=stack,
                recorder=recorder,
                out=out,
            )
            for number, scene in enumerate(scenes, 1):
                if args.only and number not in args.only:
                    continue
                # One id per scene, as if each were one inbound request to this service.
                with bind_request_id() as request_id:
                    print(f"\n[{number}] {scene.title}  (request id {request_id})", file=out)
                    printer.echo = scene.show_calls
                    scene_out = SceneOutput(out)
                    demo.out = printer.out = scene_out
                    recorder.begin(number, scene.title, _summary(scene), request_id)
                    error = None
                    with traces.scene(number, scene.title) as trace_id:
                        try:
                            scene.run(demo)
                        except Exception as exc:  # report every scene, then fail the run
                            failures += 1
                            error = f"{type(exc).__name__}: {exc}"
                            print(f"    FAILED: {error}", file=out)
                    recorder.end(
                        error=error,
                        lines=scene_out.lines(),
                        trace_id=trace_id,
                        spans=traces.spans_of(trace_id),
                    )
                    demo.out = printer.out = out
    traces.close()
    client_log.removeHandler(printer)
    client_log.removeHandler(recorder.client_log)
    elapsed = time.perf_counter() - started
    report = write_report(
        recorder.scenes,
        path=report_path,
        stack=setup.stack,
        elapsed_s=elapsed,
        secrets_never_shown=[token],
        texts={
            r["slug"]: text for r in recorder.scenes if (text := texts[r["number"]]) is not None
        },
    )
    if args.record is not None:
        write_recordings(recorder.scenes, args.record)
    if args.record_docs:
        abouts = {number: scene.about for number, scene in enumerate(scenes, 1)}
        for recording in recorder.scenes:
            if (about := abouts[recording["number"]]) is not None:
                path = DOCS_RECORDINGS / f"{about}.json"
                path.write_text(dump_recording(recording), encoding="utf-8")
    verdict = "OK" if failures == 0 else f"FAILED ({failures} scene(s))"
    print(
        f"\nDemo finished: {verdict}, {printer.calls} service calls in {elapsed:.1f}s.",
        file=out,
    )
    print(f"Report: {report}", file=out)
    return 0 if failures == 0 else 1


def _collector(stack: str, report: Path) -> Path | None:
    """Where the real stack's processes export their spans (JSON lines, beside the report),
    emptied first; None on the embedded stack, whose spans stay in this process's memory."""
    if stack == "embedded":
        return None
    directory = report.parent / "traces"
    for old in directory.glob("*.jsonl"):
        old.unlink()
    return directory


def _summary(scene: Scene) -> str:
    """What the scene shows: the first paragraph of its function's docstring."""
    doc = inspect.getdoc(scene.run) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def write_report(
    scenes: Sequence[SceneRecording],
    *,
    path: Path,
    stack: str,
    elapsed_s: float,
    secrets_never_shown: Sequence[str],
    texts: Mapping[str, SceneText] | None = None,
) -> Path:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = render_report_html(
        scenes,
        stack=stack,
        elapsed_s=elapsed_s,
        generated_at=generated,
        texts=texts,
        docs_base=Path(os.path.relpath(DOCS_SITE, path.resolve().parent)).as_posix(),
    )
    if any(secret and secret in page for secret in secrets_never_shown):
        raise RuntimeError("the report would show the services' token: not written")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path.resolve()


def write_recordings(scenes: Sequence[SceneRecording], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        (directory / f"{scene['slug']}.json").write_text(dump_recording(scene), encoding="utf-8")
