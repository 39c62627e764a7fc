"""The orders API's services: accept an order request, read one, list a customer's, and issue
a token to an account (views, the management command and Python callers use these).

Accepting stores one PENDING order-processing saga with no owner, and the Idempotency-Key
record, in one transaction, and calls nothing: a `manage.py resume_sagas` worker claims the saga
and runs it. The HTTP request never waits on a service or a backoff sleep.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from django_interlink.api.idempotency import StoredResponse, idempotent
from django_interlink.api.problems import Forbidden, NotFound
from django_interlink.api.tokens import api_token_issue
from django_interlink.models import SagaExecution
from django_interlink.sagas.services import saga_create

from ..models import Customer
from ..order_processing import ORDER_PROCESSING, SAGA_TYPE, build_order_context
from .representation import order_request_body, saga_statuses

__all__ = [
    "ORDERS_PATH",
    "customer_token_issue",
    "order_accept",
    "order_detail",
    "order_list",
    "order_path",
    "orders_of",
    "owner_key",
]

ORDERS_PATH = "/api/orders"
NOT_A_CUSTOMER = "This account is not linked to a shop user."


def order_path(order_request_id: str) -> str:
    return f"{ORDERS_PATH}/{order_request_id}"


def _customer(user: Any) -> Customer:
    try:
        return Customer.objects.get(account=user)
    except Customer.DoesNotExist:
        raise Forbidden(NOT_A_CUSTOMER) from None


def owner_key(customer: Customer) -> str:
    """What the customer's sagas carry in SagaExecution.owner_key (indexed for the list)."""
    return str(customer.user_id)


def orders_of(customer: Customer, *, status: str | None = None) -> QuerySet[SagaExecution]:
    """The customer's order requests, newest first, optionally in one API status: found
    through the ms_saga_owner index, whatever the number of sagas stored."""
    executions = SagaExecution.objects.filter(owner_key=owner_key(customer), saga_type=SAGA_TYPE)
    if status is not None:
        executions = executions.filter(status__in=saga_statuses(status))
    return executions.order_by("-created_at", "-pk")


def order_accept(
    *, user: Any, payload: dict[str, Any], idempotency_key: str, fingerprint: str
) -> tuple[StoredResponse, bool]:
    """Store the order request for a worker; returns (the 202 response, replayed?).

    `payload` is a contract-valid OrderRequestCreate; `fingerprint` identifies the request for
    its key (django_interlink.api.idempotency.fingerprint).
    """
    customer = _customer(user)

    def accept() -> StoredResponse:
        context = build_order_context(
            user_id=str(customer.user_id),
            items=payload["items"],
            payment_method=payload["payment_method"],
            currency=payload.get("currency", "USD"),
        )
        saga_id = str(uuid.uuid4())
        execution = saga_create(
            definition=ORDER_PROCESSING,
            saga_id=saga_id,
            context=context,
            owner_key=owner_key(customer),
        )
        assert execution is not None  # a fresh UUID
        path = order_path(saga_id)
        return StoredResponse(202, order_request_body(execution, path=path), {"Location": path})

    return idempotent(user=user, key=idempotency_key, fingerprint=fingerprint, operation=accept)


def order_detail(*, user: Any, order_request_id: str) -> dict[str, Any]:
    """The caller's order request; NotFound if none has this id, Forbidden if another's."""
    customer = _customer(user)
    execution = (
        SagaExecution.objects.filter(saga_type=SAGA_TYPE, saga_id=order_request_id)
        .prefetch_related("step_logs")
        .first()
    )
    if execution is None:
        raise NotFound("No order request has this id.")
    if execution.owner_key != owner_key(customer):
        raise Forbidden("This order request belongs to another user.")
    return order_request_body(execution, path=order_path(order_request_id))


def order_list(*, user: Any, status: str | None = None, limit: int = 20) -> dict[str, Any]:
    """The caller's order requests, newest first, optionally in one API status."""
    executions = orders_of(_customer(user), status=status)
    chosen = list(executions.prefetch_related("step_logs")[:limit])
    items = [order_request_body(e, path=order_path(e.saga_id)) for e in chosen]
    return {"items": items, "count": len(items)}


@transaction.atomic
def customer_token_issue(
    *, username: str, user_id: str | None = None, name: str = ""
) -> tuple[str, bool]:
    """A new API token for the account `username` (created without a password if missing),
    linked to the users-service user `user_id`; returns (token, account created?).

    `user_id` may be left out once the account is linked; a different one is refused, since
    the account's orders belong to the first.
    """
    account, created = get_user_model().objects.get_or_create(username=username)
    if created:
        account.set_unusable_password()
        account.save(update_fields=["password"])
    customer = Customer.objects.filter(account=account).first()
    if customer is None:
        if user_id is None:
            raise ValueError(f"account {username!r} is not linked yet: give the shop user id")
        taken = Customer.objects.filter(user_id=uuid.UUID(user_id)).select_related("account")
        if (holder := taken.first()) is not None:
            raise ValueError(
                f"shop user {user_id} already orders through the account {holder.account}"
            )
        try:
            with transaction.atomic():
                Customer.objects.create(account=account, user_id=uuid.UUID(user_id))
        except IntegrityError:  # linked by a concurrent call since the check above
            raise ValueError(
                f"shop user {user_id} already orders through another account"
            ) from None
    elif user_id is not None and uuid.UUID(user_id) != customer.user_id:
        raise ValueError(f"account {username!r} already orders as {customer.user_id}")
    return api_token_issue(user=account, name=name), created
