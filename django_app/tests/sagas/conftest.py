"""The saga tests' shared fixture: undo retries without backoff (tests.sagas.support.FAST)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.sagas.support import FAST


@pytest.fixture
def fast_saga_settings() -> Iterator[None]:
    with override_settings(INTERLINK=FAST):
        yield
