"""Start the playground as `make playground` does, in a child process, for tests.

    with playground_process() as info:      # free ports, a private folder
        page.goto(info.url) ...

The child runs `python -m project.playground --info-file F`; it writes F (mode 0600) once it is
serving, with the URL, the login, the stubs' URLs and their token, so a test can also read the
stubs' request logs. On exit the child gets SIGINT, the Ctrl-C of `make playground`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers.waiting import wait_until

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class PlaygroundInfo:
    url: str
    username: str
    password: str
    folder: Path
    token: str
    stubs: dict[str, str]
    log: Path


@contextmanager
def playground_process(repo: Path = REPO) -> Iterator[PlaygroundInfo]:
    """`make playground` in a child process; `repo`: another checkout's code (the tutorial's
    browser test runs a copy changed as the tutorial says)."""
    scratch = Path(tempfile.mkdtemp(prefix="playground-run-"))
    info_file, log = scratch / "info.json", scratch / "playground.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo / "django_app"), str(repo)]),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "project.playground", "--info-file", str(info_file)],
            env=env,
            cwd=repo,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: info_file.exists() or child.poll() is not None,
            timeout=START_TIMEOUT,
            interval=0.1,
            what="the playground to start",
        )
        if child.poll() is not None:
            raise RuntimeError(f"the playground exited ({child.returncode}):\n{log.read_text()}")
        data = json.loads(info_file.read_text())
        yield PlaygroundInfo(
            url=data["url"],
            username=data["username"],
            password=data["password"],
            folder=Path(data["folder"]),
            token=data["token"],
            stubs=data["stubs"],
            log=log,
        )
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(scratch, ignore_errors=True)
