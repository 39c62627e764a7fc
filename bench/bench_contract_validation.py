"""Contract validation cost per call: `python bench/bench_contract_validation.py [N] [--json F]`.

For every operation of every contract that documents an example request and 2xx response,
validates that request and response N times, with openapi-core as shipped and with this app's
cached validators, and prints milliseconds per call (request + response) and the ratio.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "django_app"), str(REPO)]

from openapi_core import Config, OpenAPI  # noqa: E402
from openapi_core.templating.paths.finders import APICallPathFinder  # noqa: E402

from django_interlink.clients.contract import (  # noqa: E402
    Call,
    OpenAPIRequest,
    OpenAPIResponse,
    ServiceContract,
)
from django_interlink.clients.openapi import MEDIA_TYPE_DESERIALIZERS, AnyServer  # noqa: E402
from django_interlink.conf import DEFAULT_CONTRACTS_DIR  # noqa: E402
from mock_services.contract_rules import load, resolve  # noqa: E402

RESULTS = REPO / "bench" / "results" / "contract_validation.json"

SERVICES = ("users", "orders", "payments", "inventory")


class _PlainFinder(APICallPathFinder):
    """openapi-core's own path finder, only made host-agnostic like the app's."""

    servers_iterator = AnyServer()


EXAMPLE_ID = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"


def _example(document: dict[str, Any], media: dict[str, Any] | None) -> Any:
    if not media:
        return None
    if "example" in media:
        return media["example"]
    for example in (media.get("examples") or {}).values():
        return resolve(document, example).get("value")
    return None


def _calls(document: dict[str, Any]) -> list[tuple[str, Call, int, dict[str, str], bytes]]:
    """(operationId, request, status, response headers, response body) from the examples."""
    found = []
    for template, item in (document.get("paths") or {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "delete", "patch"}:
                continue
            op = resolve(document, op)
            body = resolve(document, op.get("requestBody") or {})
            request_example = _example(
                document, (body.get("content") or {}).get("application/json")
            )
            if body.get("required") and request_example is None:
                continue
            status, response = next(
                ((s, resolve(document, r)) for s, r in op["responses"].items() if str(s)[0] == "2"),
                (None, None),
            )
            if response is None:
                continue
            response_example = _example(
                document, (response.get("content") or {}).get("application/json")
            )
            if response.get("content") and response_example is None:
                continue
            path = re.sub(r"\{[^}]+\}", EXAMPLE_ID, template)
            headers = {"Authorization": "Bearer bench", "X-Request-ID": "bench-1"}
            raw = None
            if request_example is not None:
                raw = json.dumps(request_example).encode()
                headers["Content-Type"] = "application/json"
            query = "q=ada" if method == "get" and "search" in template else ""
            call = Call(method.upper(), path, query, headers, raw, headers.get("Content-Type", ""))
            response_headers = {
                "Content-Type": "application/json",
                "X-Request-ID": "bench-1",
                "Location": path,
            }
            body_bytes = json.dumps(response_example).encode() if response_example else b""
            found.append(
                (str(op["operationId"]), call, int(str(status)), response_headers, body_bytes)
            )
    return found


def _openapi_core_as_shipped(
    app: OpenAPI, call: Call, status: int, headers: dict[str, str], body: bytes
) -> None:
    app.validate_request(OpenAPIRequest(call))
    app.validate_response(OpenAPIRequest(call), OpenAPIResponse(status, headers, body))


def _cached(
    contract: ServiceContract, call: Call, status: int, headers: dict[str, str], body: bytes
) -> None:
    contract.check_request(call)
    contract.check_response(call, status=status, headers=headers, body=body)


def _per_call_ms(fn: Callable[[], None], n: int) -> float:
    for _ in range(min(20, n)):
        fn()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n * 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/bench_contract_validation.py")
    parser.add_argument("calls", nargs="?", type=int, default=200, help="calls per measurement")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args(argv)
    n = args.calls
    print(f"{'operation':<28} {'openapi-core':>13} {'cached':>9} {'ratio':>6}")
    rows: list[dict[str, Any]] = []
    for service in SERVICES:
        path = Path(DEFAULT_CONTRACTS_DIR) / f"{service}.yaml"
        document = load(path)
        cached = ServiceContract(service, path)
        plain = OpenAPI.from_file_path(
            str(path),
            config=Config(
                extra_media_type_deserializers=MEDIA_TYPE_DESERIALIZERS,
                path_finder_cls=_PlainFinder,
            ),
        )
        for operation, call, status, headers, body in _calls(document):
            exchange = (call, status, headers, body)
            a = _per_call_ms(functools.partial(_openapi_core_as_shipped, plain, *exchange), n)
            b = _per_call_ms(functools.partial(_cached, cached, *exchange), n)
            rows.append(
                {"operation": f"{service}.{operation}", "openapi_core_ms": a, "cached_ms": b}
            )
            print(f"{service + '.' + operation:<28} {a:>10.2f} ms {b:>6.2f} ms {a / b:>5.1f}x")
    if not rows:
        return 1
    a = sum(r["openapi_core_ms"] for r in rows) / len(rows)
    b = sum(r["cached_ms"] for r in rows) / len(rows)
    label = f"mean of {len(rows)} operations"
    print(f"{label:<28} {a:>10.2f} ms {b:>6.2f} ms {a / b:>5.1f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {"calls": n, "mean_openapi_core_ms": a, "mean_cached_ms": b, "ratio": a / b}
        args.json.write_text(json.dumps({**summary, "operations": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
