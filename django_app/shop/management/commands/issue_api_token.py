"""`manage.py issue_api_token USERNAME --shop-user-id UUID`: a bearer token for the orders API.

Prints the token alone on stdout (capture it: it is never shown again; the database keeps only
its SHA-256), and what it did on stderr.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shop.api.services import customer_token_issue


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise CommandError(f"--shop-user-id: {value!r} is not a UUID") from None


class Command(BaseCommand):
    help = (
        "Issue an orders-API bearer token to a Django account (created, without a password, "
        "if missing), linked to the users-service user it orders as."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the Django account")
        parser.add_argument(
            "--shop-user-id",
            help="the users-service user id the account orders as (needed the first time)",
        )
        parser.add_argument("--name", default="", help="a label for the token (e.g. the client)")

    def handle(self, *args: Any, **options: Any) -> None:
        user_id = options["shop_user_id"]
        try:
            token, created = customer_token_issue(
                username=options["username"],
                user_id=_uuid(user_id) if user_id else None,
                name=options["name"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if created:
            self.stderr.write(f"created account {options['username']!r} (no password)")
        self.stderr.write(f"issued a token to {options['username']!r}; it is shown once:")
        self.stdout.write(token)
