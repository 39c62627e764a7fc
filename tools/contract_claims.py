"""Contract sentences that promise behaviour, each tied to the test that proves it.

A description saying what happens when a value is absent or wrong ("mints", "falls back",
"defaults to", "when absent", "otherwise", "ignored") is a claim about behaviour, and a claim
nobody tests drifts (say, a text promising a minted UUID for a value the pattern forbids, while
the stubs and the API answer 422). `find_claims()` lists
every such sentence in the contracts; `CLAIMS` names the tests that prove each;
tools/tests/test_contract_claims.py fails for a claim with no test, a named test that does not
exist, and an entry whose sentence is gone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = (
    *(f"contracts/{name}.yaml" for name in ("users", "orders", "payments", "inventory", "shop")),
    "contracts/events/asyncapi.yaml",
)
CLAIM_WORDS = re.compile(
    r"\b(mints?|minted|falls? back|fallback|defaults? to|when absent|if absent|otherwise"
    r"|ignored)\b",
    re.IGNORECASE,
)

_STUB_REQUEST_ID = (
    "mock_services/tests/test_auth_and_errors.py::test_request_id_is_minted_when_absent",
    "mock_services/tests/test_auth_and_errors.py::"
    "test_a_request_id_outside_the_pattern_is_a_422_with_a_minted_id",
)
_STUB_MINTED = (
    "mock_services/tests/test_auth_and_errors.py::test_request_id_is_minted_when_absent",
)
_API_REQUEST_ID = (
    "django_app/tests/shop/test_api_errors.py::test_every_response_carries_the_request_id",
    "django_app/tests/shop/test_api_errors.py::"
    "test_a_request_id_outside_the_pattern_is_a_422_with_a_minted_id",
)

# (document, JSON pointer of the description) -> the tests that prove what it says
CLAIMS: dict[tuple[str, str], tuple[str, ...]] = {
    **{
        (f"contracts/{name}.yaml", "/components/parameters/RequestId/description"): (
            _STUB_REQUEST_ID
        )
        for name in ("users", "orders", "payments", "inventory")
    },
    **{
        (f"contracts/{name}.yaml", "/components/headers/X-Request-ID/description"): _STUB_MINTED
        for name in ("users", "orders", "payments", "inventory")
    },
    ("contracts/shop.yaml", "/components/parameters/RequestId/description"): _API_REQUEST_ID,
    ("contracts/shop.yaml", "/components/headers/X-Request-ID/description"): _API_REQUEST_ID,
    (
        "contracts/shop.yaml",
        "/components/schemas/OrderItemCreate/properties/unit_price/description",
    ): (
        "django_app/tests/shop/test_order_prices.py::"
        "test_a_sent_price_the_catalogue_does_not_hold_is_rejected_and_undone",
    ),
    ("contracts/shop.yaml", "/components/schemas/OrderRequest/properties/problem/description"): (
        "django_app/tests/shop/test_api_accept.py::test_post_stores_one_pending_saga_and_runs_nothing",
        "django_app/tests/shop/test_api_read.py::test_a_stuck_saga_reads_needs_attention_with_its_problem",
    ),
    ("contracts/shop.yaml", "/components/schemas/OrderRequest/properties/waiting/description"): (
        "django_app/tests/shop/test_api_accept.py::test_post_stores_one_pending_saga_and_runs_nothing",
        "django_app/tests/shop/test_api_read.py::"
        "test_a_waiting_undo_shows_which_step_waits_and_when_it_is_tried_next",
    ),
}


def _walk(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key in ("description", "summary") and isinstance(value, str):
                yield here, value
            else:
                yield from _walk(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{index}")


def find_claims(root: Path = ROOT) -> dict[tuple[str, str], str]:
    """(document, pointer) -> text of every description that makes a claim."""
    found: dict[tuple[str, str], str] = {}
    for document in DOCUMENTS:
        tree = yaml.safe_load((root / document).read_text())
        for pointer, text in _walk(tree, ""):
            if CLAIM_WORDS.search(text):
                found[(document, pointer)] = " ".join(text.split())
    return found


def missing_tests(root: Path = ROOT) -> list[str]:
    """Named tests whose file or function does not exist."""
    missing: list[str] = []
    for tests in CLAIMS.values():
        for test in tests:
            path, _, name = test.partition("::")
            file = root / path
            if not file.is_file() or f"def {name}(" not in file.read_text():
                missing.append(test)
    return sorted(set(missing))
