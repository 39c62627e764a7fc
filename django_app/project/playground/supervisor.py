"""Keep one saga worker process running: start it, notice its death, start the next one.

What it knows goes to the WORKERS file for the page: the live worker's pid and every exit, with
the crash point when the worker killed itself there (it leaves LAST_KILL behind).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .files import LAST_KILL, WORKERS, read_json, write_json

RESTART_PAUSE = 0.5
STOP_TIMEOUT = 15.0


class WorkerSupervisor:
    """Runs `python -m project.playground.worker` in a loop from a daemon thread."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="playground-supervisor", daemon=True)
        self._state: dict[str, Any] = {"pid": None, "started": 0, "exits": []}
        self.log_path = folder / "worker.log"

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            log = self.log_path.open("ab")
            self._process = subprocess.Popen(
                [sys.executable, "-m", "project.playground.worker"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C in the terminal reaches the launcher only, which
                # stops the worker itself (SIGTERM) instead of racing a restart against it.
                start_new_session=True,
            )
            log.close()
            self._state["pid"] = self._process.pid
            self._state["started"] += 1
            self._state["started_at"] = time.time()
            self._write()

    def _run(self) -> None:
        while not self._stop.is_set():
            process = self._process
            if process is None:
                return
            returncode = process.wait()
            if self._stop.is_set():
                return
            self._record_exit(process.pid, returncode)
            self._stop.wait(RESTART_PAUSE)
            self._spawn()

    def _record_exit(self, pid: int, returncode: int) -> None:
        exit_: dict[str, Any] = {"pid": pid, "returncode": returncode, "at": time.time()}
        if returncode < 0:
            exit_["signal"] = signal.Signals(-returncode).name
        kill = read_json(self.folder / LAST_KILL, {})
        if kill.get("pid") == pid:
            exit_["point"] = kill["point"]
        with self._lock:
            self._state["exits"].append(exit_)
            self._state["pid"] = None
            self._write()

    def _write(self) -> None:
        write_json(self.folder / WORKERS, self._state)

    def stop(self) -> None:
        """SIGTERM the worker (it finishes the saga in hand), SIGKILL it if it lingers."""
        with self._lock:
            self._stop.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT)
