"""The Django application as a real server on a socket, for tests that speak HTTP to it.

`manage.py runserver --noreload` in a child process on a free port of 127.0.0.1, with the
environment the caller gives (database, services, settings module). The port is found by
binding port 0 and closing it; the child is awaited on /health/live/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import requests

from servers.waiting import wait_until

MANAGE_PY = Path(__file__).resolve().parents[1] / "manage.py"
START_TIMEOUT = 60.0


def manage_py(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    """Run a manage.py command to its end; its stdout (stderr is shown if it fails)."""
    completed = subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DjangoServer:
    """`manage.py runserver` in a child process; `threading=False` serves one request at a
    time (SQLite files do not take concurrent writers)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, threading: bool = True) -> None:
        self.env = env
        self.log_path = log_path
        self.threading = threading
        self.port = 0
        self._process: subprocess.Popen[Any] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DjangoServer:
        self.port = _free_port()
        argv = [sys.executable, str(MANAGE_PY), "runserver", "--noreload"]
        if not self.threading:
            argv.append("--nothreading")
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [*argv, f"127.0.0.1:{self.port}"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        process = self._process
        wait_until(
            lambda: process.poll() is not None or self._live(),
            timeout=START_TIMEOUT,
            interval=0.1,
            what=f"the Django server on port {self.port}",
        )
        if process.poll() is not None:
            raise RuntimeError(f"the Django server exited:\n{self.log_tail()}")
        return self

    def _live(self) -> bool:
        try:
            return requests.get(f"{self.url}/health/live/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DjangoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def django_env(**extra: str) -> dict[str, str]:
    """The environment of a child Django process running project.settings.base."""
    root = MANAGE_PY.parents[1]
    env = dict(os.environ)
    pythonpath = [str(root / "django_app"), str(root)]
    if env.get("PYTHONPATH"):
        pythonpath.append(env["PYTHONPATH"])
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.base",
            "DJANGO_SECRET_KEY": "live-server-tests-only-secret-key",
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONUNBUFFERED": "1",
            "EVENT_BUS_ALLOW_MEMORY_BUS": "1",
        }
    )
    env.update(extra)
    return env
