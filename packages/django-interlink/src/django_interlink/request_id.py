"""The request id of the work in progress, carried in a contextvar so outgoing calls can reuse it.

`RequestIDMiddleware` binds the inbound request's id; service clients read it with
`current_request_id()` and send it as `X-Request-ID`, so one id follows a user action across
every service it touches. Outside a request, each call gets a fresh id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"

# Ids arrive from outside: accept only short, printable tokens (a UUID, a trace id, ...) so a
# header cannot smuggle newlines or megabytes into our logs and onward calls.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

_current: ContextVar[str | None] = ContextVar("interlink_request_id", default=None)


def new_request_id() -> str:
    """A fresh request id (a UUID4 string)."""
    return str(uuid.uuid4())


def is_well_formed(value: str | None) -> bool:
    """Whether an incoming id may be reused as is: 1-128 chars of [A-Za-z0-9._:-]."""
    return bool(value) and _WELL_FORMED.fullmatch(value or "") is not None


def current_request_id() -> str | None:
    """The id bound to the current context (the inbound request being served), if any."""
    return _current.get()


def request_id_for_call() -> str:
    """The id an outgoing call should carry: the inbound request's, otherwise a new one."""
    return _current.get() or new_request_id()


@contextmanager
def bind_request_id(request_id: str | None = None) -> Iterator[str]:
    """Bind `request_id` (or a new one) for the duration of the block; yields the bound id.

    Useful outside HTTP requests (a consumer handling an event, a saga step, a management
    command) so every call made for one unit of work shares an id.
    """
    value = _usable(request_id)
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def bind(request_id: str | None) -> Token[str | None]:
    """Bind `request_id` (or a new one) until `unbind(token)`: `bind_request_id` for a hot path
    that cannot afford a context manager of its own (a consumer's every message)."""
    return _current.set(_usable(request_id))


def unbind(token: Token[str | None]) -> None:
    """Restore the request id that was bound before `bind` returned `token`."""
    _current.reset(token)


def _usable(request_id: str | None) -> str:
    return request_id if request_id and is_well_formed(request_id) else new_request_id()


class RequestIDLogFilter(logging.Filter):
    """Adds `record.request_id` (or "-") so a log format can include `%(request_id)s`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current.get() or "-"
        return True
