"""Consumer-driven HTTP pacts: the shop's real clients against Pact's mock server.

A `Case` is one interaction as the client sees it: the provider state it assumes, the request
the client sends, the response it reads (with matchers: types, not values, where the client does
not care) and `drive`, the call on the real typed client that must send exactly that request and
accept that answer, or raise the typed error the status maps to. `write_pact()` registers the
cases, serves them, drives the client through every one and writes the pact only when the mock
server saw each request it was promised (pact-python raises otherwise).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings
from pact import Pact, match

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.testing import services_settings_for

CONSUMER = "shop"
# The token the pacts carry as their example; the verifier replaces it with the stub's own.
TOKEN = "pact-token"  # noqa: S105  (an example value, not a secret)
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
JSON = "application/json"
PROBLEM = "application/problem+json"


def uuid(example: str) -> Any:
    return match.regex(example, regex=UUID)


def reads(shape: Any, example: Mapping[str, Any], **exact: Any) -> dict[str, Any]:
    """The fields of TypedDict `shape` (what the typed client hands its callers), each matched
    by type on `example`'s value; `exact` fields are matched by value. None stays an exact null:
    a type matcher on null would accept nothing else."""
    out: dict[str, Any] = {}
    for name in typing.get_type_hints(shape):
        value = exact[name] if name in exact else example[name]
        out[name] = value if name in exact or value is None else match.like(value)
    return out


def problem(status: int, slug: str, *, branches_on_type: bool = False) -> dict[str, Any]:
    """A problem+json body; `type` exact only where the client branches on it."""
    kind = f"https://errors.example.com/{slug}"
    return {
        "type": kind if branches_on_type else match.regex(kind, regex=r"^https?://.+"),
        "title": match.like("Problem"),
        "status": status,
        "detail": match.like("What went wrong."),
    }


@dataclass(frozen=True)
class Case:
    """One interaction: what the client sends and reads, and the real call that does it."""

    description: str
    method: str
    path: str
    status: int
    drive: Callable[[Any], object]
    state: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    # POST with an Idempotency-Key (the clients' POSTs all carry one)
    idempotent: bool = False
    response: Any = None
    # The typed error the status maps to; None: the call must succeed.
    raises: type[Exception] | None = None
    created: bool = False  # 201 with a Location header


def _register(pact: Pact, case: Case) -> None:
    interaction = pact.upon_receiving(case.description)
    if case.state is not None:
        interaction.given(case.state, dict(case.params))
    interaction.with_request(case.method, case.path)
    interaction.with_header("Authorization", match.regex(f"Bearer {TOKEN}", regex=r"^Bearer .+$"))
    for name, value in case.query.items():
        interaction.with_query_parameter(name, value)
    if case.idempotent:
        example = "0c4a3f8e-7d59-4c0b-9d5e-2f1a6b3c4d5e"
        interaction.with_header("Idempotency-Key", match.regex(example, regex=UUID))
    if case.body is not None:
        interaction.with_body(case.body, JSON, part="Request")
    interaction.will_respond_with(case.status)
    request_id = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    interaction.with_header("X-Request-ID", match.regex(request_id, regex=r"^.+$"), "Response")
    if case.created:
        interaction.with_header("Location", match.regex("/created/1", regex=r"^/.+"), "Response")
    if case.response is not None:
        ctype = PROBLEM if case.status >= 400 else JSON
        interaction.with_body(case.response, ctype, part="Response")


def _call(client: ServiceClient, case: Case) -> None:
    if case.raises is None:
        case.drive(client)
        return
    try:
        case.drive(client)
    except case.raises:
        return
    raise AssertionError(f"{case.description}: the client did not raise {case.raises.__name__}")


def write_pact(
    provider: str, client_cls: type[ServiceClient], cases: list[Case], out_dir: Path
) -> Path:
    """Drive `client_cls` through `cases` on a Pact mock server; write shop-<provider>.json."""
    pact = Pact(CONSUMER, provider).with_specification("V4")
    for case in cases:
        _register(pact, case)
    with pact.serve(addr="127.0.0.1") as server:
        conf = services_settings_for(
            {provider: str(server.url).rstrip("/")},
            TOKEN,
            base=settings.INTERLINK,
            retry={"TOTAL": 0},
        )
        with override_settings(INTERLINK=conf), client_cls() as client:
            for case in cases:
                _call(client, case)
    out_dir.mkdir(parents=True, exist_ok=True)
    pact.write_file(out_dir, overwrite=True)
    return out_dir / f"{CONSUMER}-{provider}.json"
