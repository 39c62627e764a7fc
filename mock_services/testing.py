"""Run a stub under uvicorn on a real socket in a background thread, and drive its control plane.

with StubServer("payments", token) as payments:
    payments.faults.add(method="POST", path="/payments", kind="drop")
    requests.post(payments.url + "/payments", ...)  # -> requests.ConnectionError
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import requests
import uvicorn
from fastapi import FastAPI

from mock_services.common import create_app
from mock_services.common.server import bind_socket, uvicorn_config
from servers.waiting import WaitTimeout, wait_until

_START_TIMEOUT = 10.0
_CONTROL_TIMEOUT = 10.0


class FaultsClient:
    """The `/__control/faults` endpoints of one stub."""

    def __init__(self, server: StubServer) -> None:
        self._server = server

    def add(
        self,
        *,
        method: str,
        path: str,
        kind: str,
        status: int | None = None,
        delay: float | None = None,
        retry_after: int | None = None,
        times: int = 1,
        scope: str | None = None,
    ) -> str:
        """Register a fault; returns its id. `times=0` keeps it until cleared."""
        spec: dict[str, Any] = {"method": method, "path": path, "kind": kind, "times": times}
        optional = {"status": status, "delay": delay, "retry_after": retry_after, "scope": scope}
        spec.update({key: value for key, value in optional.items() if value is not None})
        response = self._server.control("POST", "/__control/faults", json=spec)
        fault_id: str = response.json()["id"]
        return fault_id

    def list(self) -> list[dict[str, Any]]:
        """Every registered fault with `remaining` and `hits`."""
        items: list[dict[str, Any]] = self._server.control("GET", "/__control/faults").json()[
            "items"
        ]
        return items

    def remove(self, fault_id: str) -> None:
        self._server.control("DELETE", f"/__control/faults/{fault_id}")

    def clear(self) -> None:
        self._server.control("DELETE", "/__control/faults")


class StubServer:
    """One stub service on 127.0.0.1 (port 0 = a free one), served from a daemon thread."""

    def __init__(self, service: str, token: str, port: int = 0, host: str = "127.0.0.1") -> None:
        self.service = service
        self.host = host
        self._requested_port = port
        self._token = token
        self.app: FastAPI = create_app(service, token=token)
        self.faults = FaultsClient(self)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self.port = 0

    def __repr__(self) -> str:  # never show the token
        return f"<StubServer {self.service} {self.url if self.port else '(stopped)'}>"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:40123."""
        if not self.port:
            raise RuntimeError(f"the {self.service} stub is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> StubServer:
        if self.running:
            return self
        sock = bind_socket(self.host, self._requested_port)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(self.app, host=self.host, port=self.port))
        self._server = server
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"stub-{self.service}", daemon=True
        )
        self._thread = thread
        thread.start()
        # A thread that died ends the wait too; it and a timeout are the same failure, below.
        with contextlib.suppress(WaitTimeout):
            wait_until(
                lambda: server.started or not thread.is_alive(),
                timeout=_START_TIMEOUT,
                interval=0.01,
                what=f"the {self.service} stub to start",
            )
        if not server.started:
            sock.close()
            raise RuntimeError(f"the {self.service} stub did not start")
        return self

    def stop(self) -> None:
        """Close the port (a call to it is refused); a later `start()` serves on the same one."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT)
        self._server = None
        self._thread = None
        if self.port:
            self._requested_port = self.port  # clients configured with its URL find it again
        self.port = 0
        self._session.close()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The stub down for the block, as when its process is stopped: its port closed, every
        connection refused. Then it is served again on the same port with its data,
        idempotency records and request log kept, as a service restarted over its database."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A control-plane call; raises for any non-2xx answer."""
        response = self._session.request(
            method, self.url + path, timeout=_CONTROL_TIMEOUT, **kwargs
        )
        response.raise_for_status()
        return response

    def requests(
        self, *, method: str | None = None, path: str | None = None
    ) -> list[dict[str, Any]]:
        """What the stub received (oldest first): method, path, received_at (wall clock), request
        id and Idempotency-Key; optionally only one method and concrete path."""
        params = {key: value for key, value in (("method", method), ("path", path)) if value}
        items: list[dict[str, Any]] = self.control(
            "GET", "/__control/requests", params=params
        ).json()["items"]
        return items

    def set_state(self, state: str, params: dict[str, Any] | None = None) -> None:
        """Reset, then put the stub in a named provider state (POST /__control/states)."""
        self.control("POST", "/__control/states", json={"state": state, "params": params or {}})

    def reset(self) -> None:
        """Back to the seeded start state; idempotency records, faults and the request log are
        forgotten."""
        self.control("POST", "/__control/reset")
