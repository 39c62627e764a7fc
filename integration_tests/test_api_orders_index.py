"""GET /api/orders on PostgreSQL: the customer's sagas are found through the ms_saga_owner
index, not by reading every saga's JSON context."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from django_interlink.models import SagaExecution, SagaStatus
from shop.api.services import orders_of
from shop.models import Customer
from shop.order_processing import SAGA_TYPE

OWNERS = 200
SAGAS_EACH = 100


@pytest.mark.django_db
def test_the_order_list_query_uses_the_owner_index(postgres):
    """20,000 sagas of 200 customers, statistics fresh: the planner reads the index for one
    customer's newest 20 (with and without a status filter), no sequential scan."""
    owners = [str(uuid.uuid4()) for _ in range(OWNERS)]
    SagaExecution.objects.bulk_create(
        SagaExecution(
            saga_id=str(uuid.uuid4()),
            saga_type=SAGA_TYPE,
            status=SagaStatus.COMPLETED,
            owner_key=owner,
            context_data={"user_id": owner},
        )
        for owner in owners
        for _ in range(SAGAS_EACH)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE interlink_sagaexecution")
    customer = Customer(user_id=uuid.UUID(owners[7]))
    for status in (None, "completed"):
        query = orders_of(customer, status=status)[:20]
        plan = query.explain()
        assert "ms_saga_owner" in plan, plan
        assert "Seq Scan" not in plan, plan
        assert len(list(query)) == 20
