"""What the transport knows about delivery: whether a failed call may have reached the service.

`ServiceError.sent_unanswered` is the fact a saga needs to record an outcome: False when every
attempt is accounted for (never sent, never connected, answered), True when one may have
arrived and its answer was lost. Faults are injected on real sockets through the stubs.
"""

from __future__ import annotations

import socket
import uuid

import pytest
import requests
from django.test import override_settings

from django_interlink.clients.testing import services_settings_for
from django_interlink.clients.transport import IdempotencyAwareAdapter, ServiceRetry, transmit
from django_interlink.conf import DEFAULT_RETRY
from django_interlink.exceptions import (
    ContractViolation,
    ServiceConnectionError,
    ServiceTimeoutError,
    ServiceUnavailable,
)
from shop.clients.payments import PaymentServiceClient
from shop.clients.users import UserServiceClient

from .scripted import Reply

pytestmark = pytest.mark.usefixtures("reset_stubs")

USER = "00000000-0000-4000-8000-0000000000a1"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _charge(client: PaymentServiceClient, *, amount: int = 1999, key: str | None = None) -> None:
    client.process_payment(
        user_id=USER,
        amount=amount,
        currency="USD",
        card_token="tok_visa",
        idempotency_key=key or str(uuid.uuid4()),
    )


def test_a_refused_connection_on_every_attempt_was_never_sent(stub_token):
    """Nobody listening, retries and all: the error says no attempt reached the service."""
    conf = services_settings_for(
        {"payments": f"http://127.0.0.1:{_closed_port()}"},
        stub_token,
        retry={"TOTAL": 2, "BACKOFF_FACTOR": 0.001},
    )
    with (
        override_settings(INTERLINK=conf),
        PaymentServiceClient() as client,
        pytest.raises(ServiceConnectionError) as info,
    ):
        _charge(client)
    assert info.value.sent_unanswered is False


def _payment_body() -> dict[str, object]:
    return {
        "user_id": USER,
        "amount": 100,
        "currency": "USD",
        "payment_method": {"type": "card", "token": "tok_visa"},
    }


def test_a_lost_response_is_sent_unanswered(stubs, services_settings):
    """A keyless POST whose response is lost after the stub applied it: maybe delivered."""
    stubs["payments"].faults.add(method="POST", path="/payments", kind="lost_response")
    with PaymentServiceClient() as client, pytest.raises(ServiceConnectionError) as info:
        client.post("/payments", operation="createPayment", json=_payment_body())
    assert info.value.sent_unanswered is True


def test_a_server_error_after_a_lost_attempt_remembers_the_lost_one(stubs, payments_client):
    """Attempt 1 is applied and its answer lost, attempt 2 meets 503s until the retries run
    out: the 503 does not settle what attempt 1 did."""
    stubs["payments"].faults.add(method="POST", path="/payments", kind="lost_response")
    stubs["payments"].faults.add(method="POST", path="/payments", kind="error", status=503, times=0)
    with pytest.raises(ServiceUnavailable) as info:
        _charge(payments_client)
    assert info.value.sent_unanswered is True


def test_server_errors_alone_are_accounted_for(stubs, payments_client):
    """Every attempt answered 503: answered, so nothing is unaccounted for."""
    stubs["payments"].faults.add(method="POST", path="/payments", kind="error", status=503, times=0)
    with pytest.raises(ServiceUnavailable) as info:
        _charge(payments_client)
    assert info.value.sent_unanswered is False


def test_a_read_timeout_is_sent_unanswered(stubs, services_settings):
    """The request arrived; the answer did not come in time."""
    conf = {
        **services_settings,
        "SERVICES": {
            name: {**entry, "TIMEOUT": 0.2, "RETRY": {**entry["RETRY"], "TOTAL": 1}}
            for name, entry in services_settings["SERVICES"].items()
        },
    }
    stubs["users"].faults.add(
        method="GET", path="/users/{user_id}", kind="latency", delay=1.0, times=0
    )
    with (
        override_settings(INTERLINK=conf),
        UserServiceClient() as client,
        pytest.raises(ServiceTimeoutError) as info,
    ):
        client.get_user(user_id=str(uuid.uuid4()), use_cache=False)
    assert info.value.sent_unanswered is True


def test_a_request_our_contract_refuses_is_never_sent(stubs, payments_client):
    """Over payments.yaml's maximum amount: refused before a byte leaves, and it says so."""
    with pytest.raises(ContractViolation) as info:
        _charge(payments_client, amount=10_100_000_000)
    assert info.value.sent_unanswered is False
    assert info.value.operation == "createPayment"
    assert "amount" in str(info.value.field)
    assert stubs["payments"].requests(method="POST", path="/payments") == []


def test_a_response_that_breaks_the_contract_is_sent_unanswered(stubs, payments_client):
    """A 2xx we cannot trust: the charge may have happened."""
    stubs["payments"].faults.add(method="POST", path="/payments", kind="malformed", status=201)
    with pytest.raises(ContractViolation) as info:
        _charge(payments_client)
    assert info.value.sent_unanswered is True


def test_a_connect_that_times_out_on_every_attempt_was_never_sent(unanswered_port, stub_token):
    """No answer to the connect, retries and all: never sent, though it timed out."""
    conf = services_settings_for(
        {"payments": f"http://127.0.0.1:{unanswered_port}"}, stub_token, retry={"TOTAL": 1}
    )
    conf["SERVICES"]["payments"]["CONNECT_TIMEOUT"] = 0.2
    with (
        override_settings(INTERLINK=conf),
        PaymentServiceClient() as client,
        pytest.raises(ServiceConnectionError) as info,
    ):
        _charge(client)
    assert (info.value.service, info.value.operation) == ("payments", "createPayment")
    assert info.value.sent_unanswered is False


def test_a_keyless_post_that_times_out_is_sent_unanswered(stubs, services_settings):
    """Sent once (no key, no retry) and not answered in time: it may have been applied."""
    conf = {
        **services_settings,
        "SERVICES": {
            name: {**entry, "TIMEOUT": 0.2} for name, entry in services_settings["SERVICES"].items()
        },
    }
    stubs["payments"].faults.add(method="POST", path="/payments", kind="latency", delay=1.0)
    with (
        override_settings(INTERLINK=conf),
        PaymentServiceClient() as client,
        pytest.raises(ServiceTimeoutError) as info,
    ):
        client.post("/payments", operation="createPayment", json=_payment_body())
    assert (info.value.service, info.value.operation) == ("payments", "createPayment")
    assert info.value.sent_unanswered is True


def test_a_response_cut_short_is_sent_unanswered(scripted, scripted_client):
    """The status arrived, the body did not: the request reached the service, and what it did
    cannot be read. Not retried (the answer had begun); a connection error that says so."""
    scripted.script("GET", "/x", Reply(200, {"Content-Length": "100"}, b'{"id": "p-1", '))
    with pytest.raises(ServiceConnectionError) as info:
        scripted_client.get("/x", operation="getX")
    assert (info.value.service, info.value.operation) == ("scripted", "getX")
    assert info.value.sent_unanswered is True
    assert scripted.hits("GET", "/x") == 1


def test_transmit_on_its_own_decides_from_the_error(stubs, stub_token, closed_port):
    """Outside a client's call (no attempts tracked), the last error alone decides: a refused
    connection was never sent, a dropped one may have been received."""
    stubs["payments"].faults.add(method="POST", path="/payments", kind="drop")
    session = requests.Session()
    session.mount("http://", IdempotencyAwareAdapter(ServiceRetry.from_settings(DEFAULT_RETRY)))
    sent: dict[str, bool] = {}
    with session:
        for name, url in (
            ("refused", f"http://127.0.0.1:{closed_port}/payments"),
            ("dropped", f"{stubs['payments'].url}/payments"),
        ):
            prepared = requests.Request(
                "POST", url, json=_payment_body(), headers={"Authorization": f"Bearer {stub_token}"}
            ).prepare()
            with pytest.raises(ServiceConnectionError) as info:
                transmit(
                    session,
                    prepared,
                    timeout=(1.0, 1.0),
                    service="payments",
                    operation="createPayment",
                )
            sent[name] = info.value.sent_unanswered
    assert sent == {"refused": False, "dropped": True}
