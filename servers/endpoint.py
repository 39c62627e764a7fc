"""What a provider hands to the fixtures (an Endpoint, its Controller, in a Provisioned) and the
two ways it fails (ServerUnavailable: skip or fail; ServerStartError: always fail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

Source = Literal["env", "docker", "process"]


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


class CallbackController:
    """A Controller made of two callables (stop, start), and `kill` where we can crash it."""

    def __init__(
        self,
        stop: Callable[[], None],
        start: Callable[[], None],
        kill: Callable[[], None] | None = None,
    ) -> None:
        self._stop = stop
        self._start = start
        self._kill = kill
        self.running = True

    @property
    def can_kill(self) -> bool:
        return self._kill is not None

    def kill(self) -> None:
        """A crash (SIGKILL): nothing is flushed or shut down cleanly; `start()` brings it back."""
        if self._kill is None:
            raise NotImplementedError("this server cannot be killed, only stopped")
        if self.running:
            self._kill()
            self.running = False

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
