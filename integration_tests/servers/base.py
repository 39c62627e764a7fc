"""Shared by every server provider: the Endpoint handed to tests, process and container control."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

Source = Literal["env", "docker", "process"]

#: Servers named here (comma list, e.g. "rabbitmq,redis,postgres") must be had: fail, don't skip.
REQUIRE_ENV = "REQUIRE_REAL_SERVICES"


class ServerUnavailable(Exception):
    """No way to get this server on this machine; the message says how to get one."""


class ServerStartError(RuntimeError):
    """A way to get the server exists but starting it failed (a broken install, a crash)."""


class Controller(Protocol):
    """Stop, start or restart a server we own; its address and data survive a restart."""

    def stop(self) -> None: ...
    def start(self) -> None: ...
    def restart(self) -> None: ...


@dataclass
class Endpoint:
    """One reachable server, as the fixtures hand it to tests."""

    name: str
    host: str
    port: int
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    source: Source = "process"
    controller: Controller | None = None
    #: seconds from "start it" to "answers requests" (None when we did not start it)
    startup_seconds: float | None = None
    #: the tail of the server's log, attached to the report of a failed test
    log_tail: Callable[[int], str] | None = field(default=None, repr=False, compare=False)


@dataclass
class Provisioned:
    """An endpoint plus what tears it down at session end."""

    endpoint: Endpoint
    close: Callable[[], None] = lambda: None


def required_servers() -> set[str]:
    raw = os.environ.get(REQUIRE_ENV, "")
    names = {n.strip().lower() for n in raw.split(",") if n.strip()}
    if "postgresql" in names:
        names.add("postgres")
    return names


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


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll `predicate` until true; ServerStartError on timeout or when `alive()` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        if alive is not None and not alive():
            raise ServerStartError(f"{what}: the process exited while starting")
        time.sleep(interval)
    raise ServerStartError(f"{what}: not ready after {timeout:.0f} s")


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


def remove_workdir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """Prefix `setpriv --pdeathsig SIGTERM` (Linux util-linux) so the server gets SIGTERM when
    pytest dies without tearing down (SIGKILL, a CI timeout); otherwise run argv as it is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "SIGTERM", "--", *argv] if setpriv else argv


class ManagedProcess:
    """A foreground server process in its own session, its output appended to a log file."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
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


class CallbackController:
    """A Controller made of two callables (stop, start)."""

    def __init__(self, stop: Callable[[], None], start: Callable[[], None]) -> None:
        self._stop = stop
        self._start = start
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._stop()
            self.running = False

    def start(self) -> None:
        if not self.running:
            self._start()
            self.running = True

    def restart(self) -> None:
        self.stop()
        self.start()


# --- Docker -----------------------------------------------------------------------------------

_docker_answer: bool | None = None


def docker_available() -> bool:
    """True when a Docker engine answers a ping within 3 s (probed once per session)."""
    global _docker_answer
    if _docker_answer is None:
        _docker_answer = False
        try:
            import docker

            client = docker.from_env(timeout=3)
            try:
                _docker_answer = bool(client.ping())
            finally:
                client.close()
        except Exception:
            _docker_answer = False
    return _docker_answer


def container_controller(
    container: Any, ready: Callable[[], bool], what: str
) -> CallbackController:
    """Stop/start a testcontainers container in place (its host ports are bound, so they stay)."""

    def stop() -> None:
        container.get_wrapped_container().stop(timeout=20)

    def start() -> None:
        container.get_wrapped_container().start()
        wait_until(ready, timeout=120, interval=0.25, what=what)

    return CallbackController(stop, start)


def container_log_tail(container: Any) -> Callable[[int], str]:
    def tail(lines: int) -> str:
        try:
            raw = container.get_wrapped_container().logs(tail=lines)
        except Exception as exc:
            return f"(no container log: {exc})"
        return bytes(raw).decode(errors="replace")

    return tail


def timed(func: Callable[[], Any]) -> float:
    started = time.monotonic()
    func()
    return time.monotonic() - started


# --- The three ways to get a server, their shared shapes -----------------------------------------


def from_env_url(
    name: str,
    env: str,
    *,
    default_port: int,
    ready: Callable[[str], bool],
    unreachable: str,
    default_username: str = "",
    default_password: str = "",
    normalize: Callable[[str], str] = str,
) -> Provisioned | None:
    """The server at the address in env var `env` (None when it is unset), as we don't own it.

    `normalize` turns the address into the endpoint's URL; `ready(url)` must answer, else
    ServerStartError "<env> is set but <unreachable>", `unreachable` formatted with host, port, url.
    """
    address = os.environ.get(env)
    if not address:
        return None
    url = normalize(address)
    parts = urlsplit(url)
    endpoint = Endpoint(
        name=name,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or default_port,
        url=url,
        username=unquote(parts.username) if parts.username else default_username,
        password=unquote(parts.password) if parts.password else default_password,
        source="env",
    )
    if not ready(url):
        where = {"host": endpoint.host, "port": endpoint.port, "url": url}
        raise ServerStartError(f"{env} is set but {unreachable.format(**where)}")
    return Provisioned(endpoint)


def run_container(
    name: str,
    container: Any,
    *,
    port: int,
    url: Callable[[str], str],
    ready: Callable[[str], bool],
    container_port: int | None = None,
    host: str | None = None,
    wait_ready: bool = False,
    username: str = "",
    password: str = "",
) -> Provisioned:
    """Start a testcontainers `container` and describe it; `url(host)` is its address.

    `container_port` is bound to `port` on the host (a fixed host port: a restart keeps the
    address); without it the container shares the host's network and `host` is given.
    `wait_ready`: poll `ready(url)` after start (for a container with no wait strategy of its own).
    """
    if container_port is not None:
        container.with_bind_ports(container_port, port)
    what = f"{name} container"
    started = time.monotonic()
    container.start()
    startup = time.monotonic() - started
    where: str = host or container.get_container_host_ip()
    address = url(where)
    if wait_ready:
        try:
            wait_until(lambda: ready(address), timeout=120, interval=0.25, what=what)
        except ServerStartError:
            container.stop()
            raise
        startup = time.monotonic() - started
    endpoint = Endpoint(
        name=name,
        host=where,
        port=port,
        url=address,
        username=username,
        password=password,
        source="docker",
        controller=container_controller(container, lambda: ready(address), what),
        startup_seconds=startup,
        log_tail=container_log_tail(container),
    )
    return Provisioned(endpoint, close=container.stop)


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
    username: str = "",
    password: str = "",
) -> Provisioned:
    """Start a server we run on 127.0.0.1 and describe it; `stop`/`start` become its controller.

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
        controller=CallbackController(stop, start),
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
        wait_until(
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
