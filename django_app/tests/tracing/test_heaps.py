"""The long-running workers freeze their startup heap before their loop (management/heap.py):
spans waiting for export would otherwise make the collector's full passes walk all of it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from django_interlink.events.outbox import RelayResult
from django_interlink.management.commands import relay_outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """A test process with nothing frozen before and after (the freeze is process-wide)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_resume_sagas_freezes_its_startup_heap(unfrozen):
    call_command("resume_sagas", "--once")
    assert gc.get_freeze_count() > 0


def test_relay_outbox_freezes_its_startup_heap_before_its_loop(unfrozen, memory_bus, monkeypatch):
    frozen: list[int] = []

    def loop(**kwargs: Any) -> RelayResult:
        frozen.append(gc.get_freeze_count())
        return RelayResult()

    monkeypatch.setattr(relay_outbox, "outbox_relay_loop", loop)
    call_command("relay_outbox", "--bus", "memory")
    assert len(frozen) == 1 and frozen[0] > 0
