"""`make demo STACK=real`: every scene on this session's PostgreSQL and RabbitMQ, with the
relay, the consumer and the saga workers as manage.py processes and the crash scene's worker
SIGKILLed for real; the run writes the same report as the embedded demo.

The demo runs as a child process, as `make demo STACK=real` runs it, pointed at the servers
the session provisioned (their addresses in its environment, as CI gives them): it makes a
database and an exchange of its own on them and removes the database at exit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from servers import Endpoint

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
SCENES = 12


def test_demo_real_stack_passes_every_scene_and_writes_the_report(
    postgres: Endpoint, rabbitmq: Endpoint, tmp_path: Path
) -> None:
    """Exit 0; the crash was a real SIGKILL; the report holds every scene, each passed, each
    with its sequence diagram, and the saga scenes with their timelines."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "SERVICES_API_KEY", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=postgres.url,
        RABBITMQ_URL=rabbitmq.url,
        PYTHONPATH=os.pathsep.join([str(REPO / "django_app"), str(REPO)]),
    )
    report = tmp_path / "report" / "index.html"
    result = subprocess.run(
        [sys.executable, "-m", "project.demo", "--stack", "real", "--report", str(report)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    out = result.stdout
    assert "Stack: real, postgres from env, rabbitmq from env" in out
    assert "worker A killed at after_action:process_payment (a real SIGKILL" in out
    assert re.search(r"process_payment +action +#2 +succeeded .* worker B", out)
    assert f"Report: {report.resolve()}" in out

    page = report.read_text(encoding="utf-8")
    passed = re.findall(r'<section class=scene id="scene-[^"]+" data-passed="(\w+)"', page)
    assert passed == ["true"] * SCENES
    # Every scene but the sixth, which draws the saga's state diagram instead (no call, no event).
    sequences = page.count('<svg xmlns="http://www.w3.org/2000/svg" class="sequence-diagram"')
    assert sequences == SCENES - 1
    # The crash scene's keyed retry, answered from the payments stub's store, marked as such.
    assert page.count('<text class="replay-note"') == 2
    # The four saga runs' timelines (happy, declined, partial, crash): one each.
    assert page.count('class="saga-timeline"') == 4
    assert "real stack" in page
    # Event arrows of the real consumer's work: consumed, skipped, dead-lettered.
    for kind in ("event consumed", "event skipped", "event dead_lettered", "event relayed"):
        assert f'class="interaction {kind}"' in page
    # A waterfall per scene, drawn from spans the worker, relay and consumer processes exported
    # into the collector directory beside the report (their labels name the process).
    waterfalls = page.count('<svg xmlns="http://www.w3.org/2000/svg" class="trace-waterfall"')
    assert waterfalls == SCENES
    assert list((report.parent / "traces").glob("spans-*.jsonl")) != []
    for process in ("resume_sagas", "relay_outbox", "consume_events"):
        assert f" · in {process}</text>" in page
