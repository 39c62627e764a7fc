"""The calls of a scene as the Django clients logged them: attempts, the client-side duration,
the typed error and the retries (what a client span does not say)."""

from __future__ import annotations

import logging

from project.demo.report.model import Call


class ClientCallLog(logging.Handler):
    """Keeps the clients' `call` and `retry` records of the scene being recorded."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.calls: list[Call] = []
        self._retries: dict[tuple[str, str, str], list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = record.__dict__
        key = (
            str(fields.get("service")),
            str(fields.get("operation")),
            str(fields.get("request_id")),
        )
        if fields.get("event") == "retry":
            wait = fields.get("wait_s") or 0.0
            self._retries.setdefault(key, []).append(f"{fields.get('cause')}, waited {wait:.3f}s")
        elif fields.get("event") == "call":
            error = fields.get("error")
            self.calls.append(
                Call(
                    service=key[0],
                    operation=key[1],
                    method=str(fields.get("method")),
                    path=str(fields.get("path")),
                    status=fields.get("status"),
                    attempts=int(fields.get("attempts") or 1),
                    duration_ms=round(float(fields.get("duration_ms") or 0.0), 1),
                    request_id=key[2],
                    error=type(error).__name__ if error is not None else None,
                    retries=self._retries.pop(key, []),
                )
            )

    def take(self) -> list[Call]:
        calls, self.calls, self._retries = self.calls, [], {}
        return calls
