"""`python -m project.demo` (make demo): every scene runs on embedded defaults and says what held.

The demo is run as `make demo` runs it, in a child process: it sets Django up with its own
settings and SQLite file, which the test process (already set up for pytest) cannot do twice.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from project.demo.report.model import load_recording
from project.demo.report.sequence import render_sequence_svg
from project.demo.report.waterfall import render_waterfall_svg

REPO = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SERVICES_API_KEY"}
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "django_app"), str(REPO)])
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_settings_pass_the_system_checks():
    """The demo's embedded defaults (DEBUG off, the memory bus) are meant: no check error."""
    result = run_demo(
        "-c",
        "from project.demo.bootstrap import setup_django; setup_django(); "
        "from django.core.checks import run_checks; "
        "print(sorted(m.id for m in run_checks() if m.is_serious()))",
    )
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


def test_demo_runs_every_scene_and_prints_each_outcome(tmp_path):
    """Exit 0, every scene headed, no scene failed, and each scene's outcome lines are printed."""
    result = run_demo("-m", "project.demo", "--report", str(tmp_path / "report.html"))
    if result.returncode != 0:
        pytest.fail(f"demo exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    out = result.stdout
    assert re.search(r"Demo finished: OK, \d+ service calls", out)
    assert "    FAILED: " not in out
    headers = re.findall(r"^\[(\d+)\] ", out, re.MULTILINE)
    assert headers == [str(n) for n in range(1, 13)]
    expected = [
        # clients: one line per call, retries, typed errors, the contract, idempotent replay
        "users      createUser",
        "payments   createPayment",
        "orders     createOrder",
        "(2 attempts)",
        "PaymentDeclined: status 402",
        "ContractViolation in getOrder",
        "applied once despite the retry",
        # the saga's definition: every node's edges, from the walk its flowchart is drawn from
        "create_order             ok -> send_confirmation        fails -> undo create_order",
        "undo reserve_inventory   ok -> waits, released | COMPENSATED | NEEDS_ATTENTION",
        "                         waits -> waits, released",
        "waits, released          when due -> undo reserve_inventory | undo process_payment",
        "✓ every step with an undo has an undo node",
        # a saga that succeeds
        "send_confirmation  action       #1  succeeded",
        "✓ saga completed",
        "e-mail 'Order ",
        "✓ stub: one captured payment of the order's total",
        # declined card: compensations in reverse, stock restored
        "process_payment    action       #1  rejected",
        "✓ compensations in reverse: the failed step, then the one before",
        "✓ stub: nothing charged",
        "✓ stub: stock back to on_hand/reserved/available (10, 0, 10)",
        # partial reservation undone
        "reserve_inventory  compensation #1  succeeded",
        "✓ stub: the first item's reservation released",
        # crash and resume
        "worker A killed at after_action:process_payment",
        "✓ a live lease keeps worker B off",
        "process_payment    action       #1  interrupted",
        "✓ saga completed after the resume",
        "✓ stub: charged exactly once",
        # events: outbox, relay, inbox, dead letters
        "✓ rolled-back sign-up: neither the user nor its event kept",
        "welcome e-mail 'Welcome aboard, Ada'",
        "✓ redelivery skipped by the inbox",
        "dead-lettered after 1 delivery: contract: event body is not valid JSON",
        "✓ the consumer lived on: the next event was handled",
        # the same order, choreographed
        "payments     on checkout.stock_reserved     -> paid",
        "inventory    on checkout.payment_failed     -> compensated",
        "✓ the compensating events: payment_failed, then stock_released",
    ]
    missing = [line for line in expected if line not in out]
    assert missing == []
    resumed = re.search(r"process_payment +action +#2 +succeeded .* worker B", out)
    assert resumed is not None
    assert f"Report: {(tmp_path / 'report.html').resolve()}" in out


def test_demo_report_holds_every_scene_drawn_from_its_recording(tmp_path):
    """The report: one section per scene, each passed, with the sequence diagram its recording
    draws, its checks, the saga scenes' timelines; no script, no external URL, no token."""
    report, recordings = tmp_path / "report.html", tmp_path / "recordings"
    result = run_demo("-m", "project.demo", "--report", str(report), "--record", str(recordings))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = report.read_text(encoding="utf-8")
    scenes = [load_recording(path) for path in sorted(recordings.glob("*.json"))]
    assert [s["number"] for s in scenes] == list(range(1, 13))
    assert [s["passed"] for s in scenes] == [True] * 12
    for scene in scenes:
        # The page draws each scene from exactly what its recording holds (a scene with no
        # call and no event shows its figure instead).
        drawn = bool(scene["interactions"]) or not scene["figures"]
        assert (scene["number"], render_sequence_svg(scene) in page) == (scene["number"], drawn)
        for figure in scene["figures"]:
            assert figure["svg"] in page
        for check in scene["checks"]:
            assert f"<td>{html.escape(check['name'])}</td>" in page
    assert re.findall(r'data-passed="(\w+)"', page) == ["true"] * 12
    assert page.count('class="saga-timeline"') == 4
    assert sum(len(s["checks"]) for s in scenes) >= 30
    # The crash scene's two charges as the payments stub saw them: one key, applied once.
    payments = [
        (i["method"], i["status"], i["idempotency_key"])
        for i in scenes[9]["interactions"]
        if i["kind"] == "http" and i["target"] == "payments"
    ]
    assert [p[:2] for p in payments] == [("POST", 201), ("POST", 201)]
    assert len({p[2] for p in payments}) == 1
    # The stubs marked the keyed retries they answered from the store: scene 5's and 10's.
    replayed = {
        s["number"]: [i["path"] for i in s["interactions"] if i["kind"] == "http" and i["replayed"]]
        for s in scenes
    }
    assert {n: paths for n, paths in replayed.items() if paths} == {
        5: ["/reservations"],
        10: ["/payments"],
    }
    assert page.count('<text class="replay-note"') == 2
    # The saga scenes' step attempts (worker A's and B's in scene 10), and scene 6's drawing.
    steps = {s["number"]: [p["label"] for p in s["spans"] if p["kind"] != "aside"] for s in scenes}
    assert steps[10] == [
        "validate_user",
        "reserve_inventory",
        "process_payment",
        "process_payment",
        "create_order",
        "send_confirmation",
    ]
    assert [len(s["figures"]) for s in scenes] == [0] * 5 + [1] + [0] * 6
    actions = [i["action"] for i in scenes[10]["interactions"] if i["kind"] == "event"]
    assert {"enqueued", "relayed", "consumed", "skipped", "dead_lettered"} <= set(actions)
    # Drawn from each scene's trace: its waterfall is on the page, and every call drawn is a
    # client span of that trace (the same method, service and path).
    for scene in scenes:
        trace = scene.get("trace", [])
        assert (scene["number"], trace[0]["name"]) == (scene["number"], "demo scene")
        title = f"trace of scene {scene['number']}: {scene['title']}"
        assert render_waterfall_svg(trace, title=title) in page
        sent = {bar["name"] for bar in trace if bar["kind"] == "client"}
        drawn_calls = {
            f"{i['method']} {i['target']} {i['path']}"
            for i in scene["interactions"]
            if i["kind"] == "http"
        }
        assert (scene["number"], drawn_calls - sent) == (scene["number"], set())
    crash_steps = [bar["name"].rsplit(" ", 1)[-1] for bar in scenes[9].get("trace", [])]
    assert [name for name in crash_steps if name in steps[10]] == steps[10]
    # Self-contained and secret-free: no script, nothing fetched, no credentials.
    assert "<script" not in page
    # The only links leave for the docs site `make docs` builds, one per scene and a few more.
    links = re.findall(r"(?:src|href)=\"(?!#)([^\"]*)\"", page)
    assert [link for link in links if not link.startswith("../")] == []
    assert len([link for link in links if "/failures.html#" in link]) == len(scenes)
    assert "Bearer" not in page
    assert "Authorization" not in page


def test_demo_exits_non_zero_when_a_scene_invariant_fails(tmp_path):
    """A scene whose check fails is reported, the run goes on, and main() returns 1."""
    script = (
        "import sys\n"
        "from project.demo import __main__ as demo\n"
        "demo.SCENES[:] = [\n"
        "    demo.Scene('broken', lambda d: d.check('two is one', 2, 1)),\n"
        "    demo.Scene('fine', lambda d: d.say('still ran')),\n"
        "]\n"
        f"sys.exit(demo.main(['--report', {str(tmp_path / 'report.html')!r}]))\n"
    )
    result = run_demo("-c", script)
    assert result.returncode == 1
    assert "FAILED: AssertionError: two is one: expected 1, got 2" in result.stdout
    assert "still ran" in result.stdout
    assert "Demo finished: FAILED (1 scene(s))" in result.stdout
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.findall(r'data-passed="(\w+)"', page) == ["false", "true"]
    assert "<td>two is one</td><td><code>1</code></td><td><code>2</code></td>" in page
