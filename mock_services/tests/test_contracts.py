"""The contracts themselves: valid OpenAPI 3.1, the operations the brief names, house rules."""

from __future__ import annotations

import copy

import pytest
from openapi_core import OpenAPI
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from mock_services import verify
from mock_services.contract_rules import (
    contract_paths,
    is_stub_contract,
    load,
    operations,
    violations,
)
from mock_services.tests import summary

EXPECTED_OPERATIONS = {
    "users.yaml": {
        ("post", "/users"): "createUser",
        ("get", "/users/{user_id}"): "getUser",
        ("put", "/users/{user_id}"): "updateUser",
        ("get", "/users/search"): "searchUsers",
    },
    "orders.yaml": {
        ("post", "/orders"): "createOrder",
        ("get", "/orders/{order_id}"): "getOrder",
        ("get", "/users/{user_id}/orders"): "listUserOrders",
        ("put", "/orders/{order_id}/status"): "updateOrderStatus",
        ("post", "/orders/{order_id}/cancel"): "cancelOrder",
    },
    "payments.yaml": {
        ("post", "/payments"): "createPayment",
        ("get", "/payments/{payment_id}"): "getPayment",
        ("post", "/payments/{payment_id}/refund"): "refundPayment",
    },
    "inventory.yaml": {
        ("post", "/products"): "createProduct",
        ("get", "/products/{product_id}"): "getProduct",
        ("post", "/reservations"): "createReservation",
        ("get", "/reservations/{reservation_id}"): "getReservation",
        ("post", "/reservations/{reservation_id}/release"): "releaseReservation",
    },
    "shop.yaml": {
        ("post", "/api/orders"): "placeOrder",
        ("get", "/api/orders"): "listOrders",
        ("get", "/api/orders/{id}"): "getOrder",
    },
}
CREATE_LINKS = {
    "createUser": {"getUser", "updateUser"},
    "createOrder": {"getOrder", "updateOrderStatus", "cancelOrder"},
    "createPayment": {"getPayment", "refundPayment"},
    "createProduct": {"getProduct"},
    "createReservation": {"getReservation", "releaseReservation"},
    "placeOrder": {"getOrder"},
}
CONTRACTS = [path.name for path in contract_paths()]


def test_every_service_has_a_contract():
    """contracts/ holds exactly the four service contracts and the Django app's own."""
    assert sorted(CONTRACTS) == sorted(EXPECTED_OPERATIONS)


@pytest.mark.parametrize("name", CONTRACTS)
def test_contract_is_valid_openapi_3_1(name):
    """openapi-spec-validator accepts it and openapi-core (the clients' validator) loads it."""
    path = next(p for p in contract_paths() if p.name == name)
    spec, base_uri = read_from_filename(str(path))
    validate(spec, base_uri=base_uri)
    assert spec["openapi"] == "3.1.0"
    assert OpenAPI.from_file_path(str(path)) is not None


@pytest.mark.parametrize("name", CONTRACTS)
def test_contract_has_exactly_the_briefs_operations(name):
    """Each contract offers the operations (and camelCase operationIds) of the brief, no more."""
    document = load(next(p for p in contract_paths() if p.name == name))
    found = {(method, path): op["operationId"] for path, method, op in operations(document)}
    assert found == EXPECTED_OPERATIONS[name]


@pytest.mark.parametrize("name", CONTRACTS)
def test_contract_follows_the_house_rules(name):
    """Closed schemas, bearerAuth, Idempotency-Key on POSTs, X-Request-ID, problem+json errors."""
    path = next(p for p in contract_paths() if p.name == name)
    assert violations(load(path), stub=is_stub_contract(path)) == []


def test_contract_create_operations_link_to_their_follow_ups():
    """Each create operation links to read/update/cancel/refund/release (stateful testing)."""
    for path in contract_paths():
        document = load(path)
        for _, _, operation in operations(document):
            wanted = CREATE_LINKS.get(operation["operationId"])
            if wanted is None:
                continue
            # 201 Created by the stubs; 202 Accepted by the Django app (a worker does the rest)
            created = next(r for s, r in operation["responses"].items() if s in ("201", "202"))
            targets = {link["operationId"] for link in created["links"].values()}
            assert wanted <= targets, operation["operationId"]


def test_contract_rules_catch_violations():
    """The rule checker reports an open schema, a missing 429 and a POST without Idempotency-Key."""
    document = copy.deepcopy(load(next(p for p in contract_paths() if p.name == "users.yaml")))
    document["components"]["schemas"]["User"].pop("additionalProperties")
    del document["paths"]["/users/search"]["get"]["responses"]["429"]
    post = document["paths"]["/users"]["post"]
    post["parameters"] = [p for p in post["parameters"] if "IdempotencyKey" not in p["$ref"]]
    found = violations(document)
    assert any("schemas/User: not closed" in v for v in found)
    assert any(v.startswith("GET /users/search: no 429") for v in found)
    assert any(v.startswith("POST /users: POST without an Idempotency-Key") for v in found)


def test_contract_validation_command_succeeds(capsys):
    """`python -m mock_services.verify --validate-only` exits 0 and lists every contract."""
    assert verify.main(["--validate-only"]) == 0
    output = capsys.readouterr().out
    assert all(f"ok   contracts/{name}" in output for name in CONTRACTS)


def test_contract_validation_command_fails_on_an_invalid_contract(tmp_path, monkeypatch, capsys):
    """An OpenAPI error in any contract makes `verify --validate-only` exit non-zero."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: 3.1.0\ninfo: {title: x}\npaths: {}\n", encoding="utf-8")
    monkeypatch.setattr(verify, "contract_paths", lambda: [*contract_paths(), broken])
    assert verify.main(["--validate-only"]) == 1
    assert f"FAIL {broken}" in capsys.readouterr().out


def test_contracts_report_reads_the_service_from_a_stub_test_name():
    """Drift outcomes and schemathesis failures land on the service their test names."""
    run = summary.ContractsRun()
    run.record_outcome("t.py::test_stub_and_contract_do_not_drift[orders]", "failed")
    run.record_outcome(
        "t.py::test_users_stub_conforms_to_contract_schemathesis[POST /users]", "failed"
    )
    run.record_outcome(
        "t.py::test_stub_follows_contract_links_statefully_schemathesis[users]", "passed"
    )
    run.record_outcome("t.py::test_contract_is_valid_openapi_3_1[users.yaml]", "failed")
    assert (run.figures("orders").drift, run.figures("orders").failures) == ("failed", 0)
    assert (run.figures("users").drift, run.figures("users").failures) == ("not run", 1)
    assert run.figures("users").operations == 4
    assert [pair for pair in run.properties() if pair[0].startswith("users.")] == [
        ("users.operations", "4"),
        *((f"users.cases.{phase}", "0") for phase in summary.PHASES),
        ("users.failures", "1"),
        ("users.drift", "not run"),
        ("users.st_command", "not run"),
    ]


def test_contract_rules_ask_the_fault_statuses_of_the_stubs_only():
    """shop.yaml (the Django app's own API) needs 401 and 500, not the stubs' injectable 429/5xx."""
    shop = next(p for p in contract_paths() if p.name == "shop.yaml")
    assert not is_stub_contract(shop)
    assert violations(load(shop), stub=False) == []
    assert any(v.endswith("no 503 response") for v in violations(load(shop), stub=True))
