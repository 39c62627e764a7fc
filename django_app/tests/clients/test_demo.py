"""`python -m project.demo` (make demo) runs on embedded defaults and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def test_demo_runs_every_scene_and_exits_zero():
    """The demo starts its stubs, runs each scene, prints one line per call and an OK end line."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SERVICES_API_KEY"}
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "django_app"), str(REPO)])
    result = subprocess.run(
        [sys.executable, "-m", "project.demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"demo exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    out = result.stdout
    assert "Demo finished: OK" in out
    for expected in (
        "users      createUser",
        "payments   createPayment",
        "orders     createOrder",
        "(2 attempts)",
        "PaymentDeclined: status 402",
        "ContractViolation in getOrder",
        "applied once despite the retry",
    ):
        assert expected in out
