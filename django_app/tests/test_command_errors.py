"""Management commands answer bad arguments with a CommandError (a message and exit status 1),
never a traceback."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_interlink.models import SagaExecution
from shop.api.services import customer_token_issue
from shop.models import Customer

pytestmark = pytest.mark.django_db

TAKEN = "4b0e8bd5-2a8e-4f67-8c59-0b2a0b0d6d1e"


def test_issue_api_token_with_a_shop_user_id_another_account_uses():
    """The old IntegrityError: the second account is refused by name, nothing is created."""
    customer_token_issue(username="ada", user_id=TAKEN)
    with pytest.raises(CommandError, match=f"shop user {TAKEN} already orders through .*ada"):
        call_command("issue_api_token", "bob", "--shop-user-id", TAKEN)
    assert list(Customer.objects.values_list("account__username", flat=True)) == ["ada"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["relay_outbox", "--once", "--batch-size", "-1"], "--batch-size"),
        (["relay_outbox", "--once", "--interval", "x"], "--interval"),
        (["relay_outbox", "--once", "--bus", "redis"], "REDIS_URL"),
        (["consume_events", "--handler-module", "no.such.module"], "cannot load the handlers"),
        (["consume_events", "--max-messages", "0"], "--max-messages"),
        (["resume_sagas", "--saga-id", "nope"], "no saga has the id 'nope'"),
        (["resume_sagas", "--batch", "0"], "--batch"),
        (["purge_expired", "--bus", "redis"], "REDIS_URL"),
    ],
)
def test_bad_arguments_are_command_errors(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command(*argv)
    assert not SagaExecution.objects.exists()
