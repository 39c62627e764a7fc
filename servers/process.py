"""A server run as a local process: free ports, its work dir, its process (tied to ours with
pdeathsig, forked by one long-lived thread, its output in a log file) and the controller that
stops and starts it."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from .endpoint import CallbackController, Endpoint, Provisioned, ServerStartError
from .readiness import wait_until_ready
from .waiting import WaitTimeout, wait_until

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports on 127.0.0.1 (all sockets held until every one is chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tail_file(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


WORKDIR_PREFIX = "it-"
OWNER_FILE = "pytest.pid"


def make_workdir(prefix: str, owner: str | None = None) -> Path:
    """A short temp dir (Unix socket paths must stay under 107 chars), owned by `owner` if given.

    It records the pytest process's pid, so a later session can clean up after one that was
    killed before its teardown (see sweep_stale_workdirs).
    """
    path = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{prefix}-"))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    if owner is not None:
        shutil.chown(path, user=owner, group=None)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_workdirs() -> list[Path]:
    """Remove server dirs left by pytest sessions that died (their pid is gone); stop any
    PostgreSQL still running from one (pg_ctl daemonizes it, so it outlives its session)."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        try:
            pid = int((path / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if _pid_alive(pid):
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int((path / "data" / "postmaster.pid").read_text().split()[0])
            os.kill(postmaster, signal.SIGQUIT)  # immediate shutdown: nobody is using it
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """Prefix `setpriv --pdeathsig SIGTERM` (Linux util-linux) so the server gets SIGTERM when
    pytest dies without tearing down (SIGKILL, a CI timeout); otherwise run argv as it is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "SIGTERM", "--", *argv] if setpriv else argv


_spawns: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _serve_spawns() -> None:
    while True:
        call, future = _spawns.get()
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)


def on_spawner_thread(call: Callable[[], T]) -> T:
    """Run `call` on the one thread that forks every server, and return its result.

    `setpriv --pdeathsig` fires when the *thread* that forked the child exits, not the process:
    a server started from a short-lived thread (a test restarting it in the background) would
    get SIGTERM when that thread ended. This daemon thread lives until pytest exits or dies.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_serve_spawns, name="server-spawner", daemon=True)
            _spawner.start()
    future: Future[T] = Future()
    _spawns.put((call, future))
    return future.result()


class ManagedProcess:
    """A foreground server process in its own session, its output appended to a log file."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        self.proc = on_spawner_thread(self._popen)

    def _popen(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                _with_parent_death_signal(self.argv),
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we can signal all its children
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, timeout: float = 20.0) -> None:
        """SIGTERM (graceful), then SIGKILL the whole process group if it lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash, as the OOM killer would do it.

        Returns once no process of the group is left: a server's child dies after our child
        does, and until then it still holds its ports (a restart would find them taken).
        """
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: not _group_alive(proc.pid), timeout=30, interval=0.05, what="kill")
        self.proc = None


def process_env(**extra: str) -> dict[str, str]:
    """A server process's whole environment: PATH plus `extra`."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


def start_local_server(
    name: str,
    *,
    port: int,
    url: str,
    log: Path,
    start: Callable[[], None],
    stop: Callable[[], None],
    close: Callable[[], None],
    first_start: Callable[[], None] | None = None,
    kill: Callable[[], None] | None = None,
    username: str = "",
    password: str = "",
) -> Provisioned:
    """Start a server we run on 127.0.0.1 and describe it; `stop`/`start` (and `kill`, if given)
    become its controller.

    `first_start` (default `start`) runs once, timed; when it fails, `close()` cleans up and the
    ServerStartError carries the tail of `log`.
    """
    started = time.monotonic()
    try:
        (first_start or start)()
    except Exception as exc:
        text = tail_file(log, 40)
        close()
        raise ServerStartError(f"{exc}\n--- {name} log ---\n{text}") from exc
    endpoint = Endpoint(
        name=name,
        host="127.0.0.1",
        port=port,
        url=url,
        username=username,
        password=password,
        source="process",
        controller=CallbackController(stop, start, kill),
        startup_seconds=time.monotonic() - started,
        log_tail=lambda lines: tail_file(log, lines),
    )
    return Provisioned(endpoint, close=close)


def start_one_process(
    name: str,
    argv: Sequence[str],
    *,
    workdir: Path,
    env: dict[str, str],
    port: int,
    url: str,
    ready: Callable[[str], bool],
    what: str,
    timeout: float,
    interval: float = 0.05,
) -> Provisioned:
    """A server that is one foreground process (log in workdir/server.log), ready when `ready(url)`;
    stopped with SIGTERM, its workdir removed at close."""
    log = workdir / "server.log"
    process = ManagedProcess(argv, env=env, log=log, cwd=workdir)

    def start() -> None:
        process.spawn()
        wait_until_ready(
            lambda: ready(url), timeout=timeout, interval=interval, what=what, alive=process.alive
        )

    def stop() -> None:
        process.terminate(timeout=10)

    def close() -> None:
        stop()
        remove_workdir(workdir)

    return start_local_server(
        name, port=port, url=url, log=log, start=start, stop=stop, close=close
    )
