"""`manage.py issue_api_token`: a token on stdout alone, the account linked to its shop user."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import CommandError, call_command

from django_interlink.models import ApiToken
from shop.models import Customer

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def test_the_first_token_creates_and_links_the_account():
    user_id = str(uuid.uuid4())
    token = issue("ada", "--shop-user-id", user_id, "--name", "playground")
    customer = Customer.objects.get()
    assert (customer.account.username, str(customer.user_id)) == ("ada", user_id)
    assert not customer.account.has_usable_password()
    assert len(token) >= 40 and ApiToken.objects.get().name == "playground"


def test_later_tokens_need_no_user_id_but_refuse_another():
    user_id = str(uuid.uuid4())
    issue("ada", "--shop-user-id", user_id)
    assert issue("ada") != ""
    assert ApiToken.objects.count() == 2
    with pytest.raises(CommandError, match="already orders as"):
        issue("ada", "--shop-user-id", str(uuid.uuid4()))


def test_bad_input_is_a_command_error():
    with pytest.raises(CommandError, match="not a UUID"):
        issue("ada", "--shop-user-id", "nope")
    with pytest.raises(CommandError, match="not linked yet"):
        issue("bea")
