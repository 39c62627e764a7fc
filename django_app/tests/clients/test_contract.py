"""Contract validation: requests checked before sending, responses (errors too) after."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from django_interlink.clients.base import ServiceClient
from django_interlink.clients.contract import Call, contract_for
from django_interlink.exceptions import ContractViolation, ResourceNotFound, ServiceError
from shop.clients.users import UserServiceClient

pytestmark = pytest.mark.usefixtures("reset_stubs")

WIDGET = "00000000-0000-4000-8000-000000000001"
USER_FIELDS = {"id", "email", "name", "is_active", "created_at", "updated_at", "unexpected_field"}


def _fault(stub, fault_id):
    return next(f for f in stub.faults.list() if f["id"] == fault_id)


def _user(users_client):
    return users_client.create_user(email=f"c{uuid.uuid4().hex[:10]}@example.com", name="C")


def test_malformed_response_names_operation_and_field(stubs, users_client):
    """A 200 body breaking the User schema: ContractViolation naming getUser and a field."""
    user = _user(users_client)
    stubs["users"].faults.add(method="GET", path="/users/{user_id}", kind="malformed")
    with pytest.raises(ContractViolation) as info:
        users_client.get_user(user_id=user["id"])
    violation = info.value
    assert isinstance(violation, ValueError)
    assert isinstance(violation, ServiceError)
    assert (violation.service, violation.operation, violation.status_code) == (
        "users",
        "getUser",
        200,
    )
    assert violation.field in USER_FIELDS
    assert "users.getUser response 200" in str(violation)
    assert violation.field in str(violation)


def test_request_violating_the_contract_is_never_sent(stubs, inventory_client):
    """quantity=-1 raises ContractViolation naming createReservation/quantity before any I/O."""
    sentinel = stubs["inventory"].faults.add(
        method="POST", path="/reservations", kind="error", status=500
    )
    with pytest.raises(ContractViolation) as info:
        inventory_client.reserve_item(product_id=WIDGET, quantity=-1)
    assert (info.value.operation, info.value.field) == ("createReservation", "quantity")
    assert "minimum" in str(info.value)
    assert _fault(stubs["inventory"], sentinel)["hits"] == 0
    assert inventory_client.get_stock(product_id=WIDGET)["reserved"] == 0


def test_missing_required_field_is_named(services_settings):
    """A body without a required property names that property."""
    with ServiceClient("users") as raw, pytest.raises(ContractViolation) as info:
        raw.post("/users", operation="createUser", json={"name": "no email"})
    assert info.value.field == "email"


def test_unexpected_field_is_named(services_settings):
    """A body with a property the closed schema forbids names that property."""
    with ServiceClient("users") as raw, pytest.raises(ContractViolation) as info:
        raw.post(
            "/users", operation="createUser", json={"email": "a@example.com", "name": "A", "x": 1}
        )
    assert info.value.field == "x"


def test_nested_field_path_is_named(services_settings, orders_client):
    """A bad item deep in the body is named by its path (items[0].quantity)."""
    with pytest.raises(ContractViolation) as info:
        orders_client.create_order(
            user_id=str(uuid.uuid4()),
            items=[{"product_id": WIDGET, "quantity": 0, "unit_price": 100}],
            currency="EUR",
        )
    assert (info.value.operation, info.value.field) == ("createOrder", "items[0].quantity")


def test_bad_path_parameter_is_named(users_client):
    """A user id that is not a UUID is caught as the user_id path parameter."""
    with pytest.raises(ContractViolation) as info:
        users_client.get_user(user_id="not-a-uuid")
    assert (info.value.operation, info.value.field) == ("getUser", "user_id")
    assert "path parameter" in str(info.value)


def test_bad_query_parameter_is_named(users_client):
    """limit above the contract's maximum is caught as the limit query parameter."""
    with pytest.raises(ContractViolation) as info:
        users_client.search_users(q="a", limit=500)
    assert (info.value.operation, info.value.field) == ("searchUsers", "limit")


def test_undocumented_error_status_is_a_violation(stubs, users_client):
    """An error status the contract does not list for the operation is a ContractViolation."""
    stubs["users"].faults.add(method="GET", path="/users/{user_id}", kind="error", status=418)
    with pytest.raises(ContractViolation) as info:
        users_client.get_user(user_id=str(uuid.uuid4()))
    assert (info.value.operation, info.value.field, info.value.status_code) == (
        "getUser",
        "status",
        418,
    )


def test_problem_body_is_checked_against_the_problem_schema(services_settings):
    """A 404 problem+json body missing its required members is a violation naming one of them."""
    call = Call(method="GET", path=f"/users/{uuid.uuid4()}")
    with pytest.raises(ContractViolation) as info:
        contract_for("users").check_response(
            call,
            status=404,
            headers={"Content-Type": "application/problem+json", "X-Request-ID": "r-1"},
            body=b'{"title": 5}',
        )
    assert info.value.operation == "getUser"
    assert info.value.field in {"type", "title", "status"}


def test_documented_problem_passes_and_becomes_the_error_payload(users_client):
    """A conforming 404 problem passes validation and is carried by the typed error."""
    with pytest.raises(ResourceNotFound) as info:
        users_client.get_user(user_id=str(uuid.uuid4()))
    assert set(info.value.problem) >= {"type", "title", "status", "detail"}


def test_operation_name_must_match_the_contract(services_settings):
    """A client calling a route under another operationId is flagged (client/contract drift)."""
    with ServiceClient("users") as raw, pytest.raises(ContractViolation) as info:
        raw.get(f"/users/{uuid.uuid4()}", operation="fetchUser")
    assert "getUser" in str(info.value)


def test_route_missing_from_the_contract_is_flagged(services_settings):
    """A path the contract does not define is a violation, before sending."""
    with ServiceClient("users") as raw, pytest.raises(ContractViolation):
        raw.get("/admin/users", operation="listAll")


def test_validation_off_lets_a_malformed_body_through(stubs, services_settings):
    """CONTRACT_VALIDATION 'off': nothing is checked (the malformed body is returned as is)."""
    with override_settings(INTERLINK={**services_settings, "CONTRACT_VALIDATION": "off"}):
        client = UserServiceClient()
        user = _user(client)
        stubs["users"].faults.add(method="GET", path="/users/{user_id}", kind="malformed")
        body = client.get_user(user_id=user["id"])
    assert dict(body)["unexpected_field"] == "malformed"


@pytest.mark.parametrize(("rate", "caught"), [(0.0, False), (1.0, True)])
def test_sampled_validation_follows_the_sample_rate(stubs, services_settings, rate, caught):
    """'sampled' validates a CONTRACT_SAMPLE_RATE fraction of calls (0 = none, 1 = all)."""
    conf = {**services_settings, "CONTRACT_VALIDATION": "sampled", "CONTRACT_SAMPLE_RATE": rate}
    with override_settings(INTERLINK=conf):
        client = UserServiceClient()
        user = _user(client)
        stubs["users"].faults.add(method="GET", path="/users/{user_id}", kind="malformed")
        if caught:
            with pytest.raises(ContractViolation):
                client.get_user(user_id=user["id"])
        else:
            assert dict(client.get_user(user_id=user["id"]))["unexpected_field"] == "malformed"


def test_contract_is_loaded_once_per_process(services_settings):
    """The parsed contract (and its validators) is cached."""
    assert contract_for("users") is contract_for("users")
