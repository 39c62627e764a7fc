"""PROMETHEUS_MULTIPROC_DIR: /metrics sums the counters of every web process that wrote there.

Two separate Python processes each count a client call; a third renders the web process's
exposition: it shows both. (The variable must be set before prometheus_client is imported, so
each part runs in a process of its own.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .scrape import parse, value

REPO = Path(__file__).resolve().parents[3]

COUNT = """
import django; django.setup()
from django_interlink.metrics import instruments
instruments.client_call("users", "getUser", "200", 0.01)
"""
RENDER = """
import django; django.setup()
from django_interlink.metrics.exposition import render
print(render(None)[0].decode())
"""


def _python(code: str, multiproc_dir: Path) -> str:
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
        "PYTHONPATH": os.pathsep.join([str(REPO / "django_app"), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_counters_of_every_web_process_are_summed(tmp_path):
    _python(COUNT, tmp_path)
    _python(COUNT, tmp_path)
    samples = parse(_python(RENDER, tmp_path))
    call = {"service": "users", "operation": "getUser", "status": "200"}
    assert value(samples, "interlink_client_calls_total", **call) == 2
