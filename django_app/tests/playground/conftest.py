"""The playground's views under Django's test client: its app installed, its folder a tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from project.playground import stubs as playground_stubs
from project.playground.files import CUSTOMERS, write_json


@pytest.fixture
def playground_dir(settings: Any, tmp_path: Path) -> Path:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "project.playground"]
    settings.ROOT_URLCONF = "project.playground.root_urls"
    settings.LOGIN_URL = "playground:login"
    settings.PLAYGROUND_DIR = str(tmp_path)
    write_json(tmp_path / CUSTOMERS, [{"username": "ada", "name": "Ada Lovelace", "user_id": "-"}])
    return tmp_path


@pytest.fixture
def staff(db: None, playground_dir: Path) -> Client:
    user = User.objects.create_user("pg-staff", password="pw-for-tests", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def registered_stubs(reset_stubs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The session's stubs, registered as the launcher registers its own (the charges ledger)."""
    playground_stubs.register(reset_stubs)
    yield reset_stubs
    playground_stubs.register({})
