"""The orders API on PostgreSQL, over HTTP, with real processes: `manage.py runserver` servers
accept orders, a `manage.py resume_sagas` worker runs them against the four stubs.

What must hold: the request only stores the saga (no step, no service call until a worker
runs); the worker completes it or undoes it, and GET shows the steps and the outcome; an
Idempotency-Key replays across two server processes, and a twin request whose first is still
in its transaction gets a 409; 401 without a token, 403 on another user's order.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import transaction
from tests.live_server import DjangoServer
from tests.shop.support import Shop, two_items

from django_interlink.api.idempotency import fingerprint
from django_interlink.models import IdempotencyRecord, SagaExecution, SagaStepLog
from integration_tests.helpers import django_subprocess_env, manage_py_argv
from mock_services.waiting import wait_until
from shop.api.services import customer_token_issue

pytestmark = pytest.mark.django_db(transaction=True)

LOCMEM_MAIL = "django.core.mail.backends.locmem.EmailBackend"
VISA = {"type": "card", "token": "tok_visa"}
DECLINED = {"type": "card", "token": "tok_declined"}
FINISHED = {"completed", "failed", "needs_attention"}


@pytest.fixture
def env(postgres, stubs, stub_token, reset_stubs) -> dict[str, str]:
    urls = {f"{name.upper()}_SERVICE_URL": server.url for name, server in stubs.items()}
    return django_subprocess_env(SERVICES_API_KEY=stub_token, EMAIL_BACKEND=LOCMEM_MAIL, **urls)


@pytest.fixture
def ada(services_settings, reset_stubs) -> dict[str, str]:
    """An account linked to an active user of the users stub, and its token."""
    shop = Shop(reset_stubs)
    try:
        user_id = shop.user()
    finally:
        shop.close()
    token, _ = customer_token_issue(username="ada", user_id=user_id)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server(env, tmp_path: Path) -> Iterator[DjangoServer]:
    with DjangoServer(env, tmp_path / "server-a.log") as started:
        yield started


@pytest.fixture
def second_server(env, tmp_path: Path) -> Iterator[DjangoServer]:
    with DjangoServer(env, tmp_path / "server-b.log") as started:
        yield started


@pytest.fixture
def start_worker(env) -> Iterator[Any]:
    """Starts a looping `resume_sagas` worker process (stopped after the test)."""
    workers: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        worker = subprocess.Popen(
            manage_py_argv("resume_sagas", "--poll-interval", "0.1"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.terminate()
        worker.wait(timeout=30)


def place(server: DjangoServer, headers: dict[str, str], payment=VISA, key: str | None = None):
    body = {"items": two_items(), "currency": "USD", "payment_method": payment}
    return requests.post(
        f"{server.url}/api/orders",
        json=body,
        headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())},
        timeout=10,
    )


def follow(server: DjangoServer, headers: dict[str, str], location: str) -> dict[str, Any]:
    """GET Location until the order request has finished; its last body."""
    seen: dict[str, Any] = {}

    def finished() -> bool:
        seen.update(requests.get(server.url + location, headers=headers, timeout=10).json())
        return seen["status"] in FINISHED

    wait_until(finished, timeout=120, interval=0.2, what=f"{location} to finish")
    return seen


def requests_received(stubs) -> dict[str, int]:
    return {name: len(stub.requests()) for name, stub in stubs.items()}


def test_an_accepted_order_waits_for_a_worker_which_completes_it(
    server, ada, start_worker, reset_stubs
):
    """POST stores a PENDING saga and calls nothing; a worker process completes it; GET shows
    completed, the five steps and the ids."""
    before = requests_received(reset_stubs)
    response = place(server, ada)
    assert response.status_code == 202
    location = response.headers["Location"]
    execution = SagaExecution.objects.get(saga_id=response.json()["id"])
    assert (execution.status, execution.lease_owner) == ("pending", "")
    assert not SagaStepLog.objects.exists()
    assert requests_received(reset_stubs) == before

    start_worker()
    body = follow(server, ada, location)
    assert body["status"] == "completed"
    assert [(s["name"], s["direction"], s["outcome"]) for s in body["steps"]] == [
        ("validate_user", "forward", "succeeded"),
        ("reserve_inventory", "forward", "succeeded"),
        ("process_payment", "forward", "succeeded"),
        ("create_order", "forward", "succeeded"),
        ("send_confirmation", "forward", "succeeded"),
    ]
    assert body["order_id"] is not None and body["payment_id"] is not None
    assert len(body["reservation_ids"]) == 2
    assert body["problem"] is None
    order = reset_stubs["orders"].control("GET", f"/orders/{body['order_id']}", headers={})
    assert order.status_code == 200


def test_a_declined_card_fails_with_compensations_and_a_problem(server, ada, start_worker):
    """tok_declined: failed; the payment's and the reservations' undo ran; problem says why."""
    start_worker()
    location = place(server, ada, payment=DECLINED).headers["Location"]
    body = follow(server, ada, location)
    assert body["status"] == "failed"
    assert [s["name"] for s in body["steps"] if s["direction"] == "compensate"] == [
        "process_payment",
        "reserve_inventory",
    ]
    assert body["problem"]["type"] == "https://errors.example.com/order-failed"
    assert "declined" in body["problem"]["detail"]
    assert body["payment_id"] is None


def test_an_idempotency_key_replays_across_server_processes(server, second_server, ada):
    """The key stored by one server process replays on another; another body is a 422."""
    first = place(server, ada, key="shared-key")
    replay = place(second_server, ada, key="shared-key")
    assert replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.headers["Location"] == first.headers["Location"]
    other = place(second_server, ada, payment=DECLINED, key="shared-key")
    assert other.status_code == 422
    assert other.json()["type"] == "https://errors.example.com/idempotency-key-reused"
    assert SagaExecution.objects.count() == 1


def test_a_twin_of_a_request_still_in_its_transaction_gets_a_409(server, ada):
    """While another transaction holds the key's uncommitted record, the server answers 409
    (after its lock timeout) instead of waiting; once that transaction is gone the key is free."""
    body = {"items": two_items(), "currency": "USD", "payment_method": VISA}
    raw = requests.Request("POST", "http://x/api/orders", json=body).prepare().body
    assert isinstance(raw, bytes)
    user = get_user_model().objects.get(username="ada")
    with transaction.atomic():
        IdempotencyRecord.objects.create(
            user=user,
            key="busy-key",
            fingerprint=fingerprint(method="POST", path="/api/orders", body=raw),
        )
        twin = requests.post(
            f"{server.url}/api/orders",
            data=raw,
            headers={**ada, "Idempotency-Key": "busy-key", "Content-Type": "application/json"},
            timeout=10,
        )
        transaction.set_rollback(True)
    assert twin.status_code == 409
    assert twin.json()["type"] == "https://errors.example.com/idempotency-key-in-use"
    assert place(server, ada, key="busy-key").status_code == 202


def test_no_token_is_a_401_and_another_users_order_a_403(server, ada, reset_stubs):
    location = place(server, ada).headers["Location"]
    anonymous = requests.get(server.url + location, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    token, _ = customer_token_issue(username="bob", user_id=str(uuid.uuid4()))
    other = requests.get(
        server.url + location, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert other.status_code == 403
    assert other.json()["type"] == "https://errors.example.com/forbidden"


@pytest.fixture
def limited_env(env) -> dict[str, str]:
    # A window of ~31 years: the four requests cannot straddle two windows.
    return {**env, "API_RATE_LIMIT": "3", "API_RATE_LIMIT_WINDOW": str(10**9)}


def test_the_rate_limit_holds_across_server_processes(limited_env, ada, tmp_path: Path):
    """RATE_LIMIT 3 a window, POSTs alternating between two servers: the fourth, whichever
    process takes it, is a 429 problem with Retry-After (the count lives in PostgreSQL)."""
    with (
        DjangoServer(limited_env, tmp_path / "limited-a.log") as first,
        DjangoServer(limited_env, tmp_path / "limited-b.log") as second,
    ):
        answers = [place(server, ada) for server in (first, second, first, second)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10**9
    assert SagaExecution.objects.count() == 3
