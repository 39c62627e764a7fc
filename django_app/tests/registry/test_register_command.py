"""`manage.py register_service` as a process: registers, blocks, deregisters on SIGTERM/SIGINT.

Static backend here (registration is a no-op there); against Consul:
integration_tests/test_register_service.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DJANGO_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = DJANGO_DIR.parent


def _start(*args: str, **env: str) -> subprocess.Popen[str]:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings.base",
        "DJANGO_SECRET_KEY": "register-command-test",
        "PYTHONPATH": os.pathsep.join([str(DJANGO_DIR), str(REPO_DIR)]),
        "PYTHONUNBUFFERED": "1",
        "REGISTRY_BACKEND": "static",
        "EVENT_BUS_ALLOW_MEMORY_BUS": "1",  # the base settings' memory bus, DEBUG off: meant here
        **env,
    }
    return subprocess.Popen(
        [sys.executable, str(DJANGO_DIR / "manage.py"), "register_service", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_register_service_blocks_until_signalled_then_deregisters(signum):
    """The command prints its registration, waits, and on the signal deregisters and exits 0."""
    proc = _start("--name", "django-orders", "--address", "10.1.2.3", "--port", "8080")
    try:
        registered = _first_line(proc)
        assert proc.poll() is None
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert registered == (
        "registered django-orders@10.1.2.3:8080 (check http://10.1.2.3:8080/health/ready/)"
    )
    assert out.strip() == "deregistered django-orders@10.1.2.3:8080"
    assert proc.returncode == 0, err


def test_register_service_runs_a_command_and_forwards_sigterm_to_it():
    """With a command after --, SIGTERM reaches the child; its exit code becomes the command's."""
    child = (
        "import signal, sys, time; "
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7)); "
        "print('child up', flush=True); time.sleep(60)"
    )
    proc = _start("--port", "8081", "--", sys.executable, "-c", child)
    try:
        registered = _first_line(proc)
        child_up = _first_line(proc)
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert registered.startswith("registered django-orders@127.0.0.1:8081")
    assert child_up == "child up"
    assert out.strip() == "deregistered django-orders@127.0.0.1:8081"
    assert proc.returncode == 7


def test_register_service_rejects_meta_without_equals_sign():
    """--meta must be KEY=VALUE; anything else is a usage error before registering."""
    proc = _start("--meta", "version")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "--meta wants KEY=VALUE" in err
    assert "registered" not in out
