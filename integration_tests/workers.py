"""`manage.py resume_sagas` worker processes for the saga suites: started with their output in
files, watched while a test waits, stopped with SIGTERM."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from integration_tests.helpers import manage_py_argv
from servers.waiting import wait_until


@dataclass(frozen=True)
class WorkerOutput:
    returncode: int | None
    stdout: str
    stderr: str


class Workers:
    """`count` resume_sagas loops with `env`; `until` gives up as soon as one of them exits."""

    def __init__(self, count: int, env: dict[str, str], logs: Path, *args: str) -> None:
        self.env = env
        # To files, not pipes: nobody reads a pipe until the workers exit, and a full one
        # blocks them.
        self.logs = [(logs / f"worker-{n}.out", logs / f"worker-{n}.err") for n in range(count)]
        self.argv = manage_py_argv("resume_sagas", *args)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> Workers:
        for out_path, err_path in self.logs:
            with out_path.open("w") as out, err_path.open("w") as err:
                self.processes.append(
                    subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=err)
                )
        return self

    def exited(self) -> bool:
        return any(p.poll() is not None for p in self.processes)

    def until(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        """wait_until, cut short if a worker exits (`stop` then shows its code and stderr)."""
        wait_until(lambda: done() or self.exited(), timeout=timeout, what=what)

    def stop(self, timeout: float = 60) -> list[WorkerOutput]:
        """SIGTERM each (it finishes the saga in hand, then exits); their code and output."""
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return [
            WorkerOutput(p.returncode, out.read_text(), err.read_text())
            for p, (out, err) in zip(self.processes, self.logs, strict=True)
        ]
