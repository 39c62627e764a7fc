"""django_interlink/crash.py: each area's crash points answer to its own variable and hook."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from django_interlink.crash import CrashPoints
from django_interlink.events import crash as events_crash
from django_interlink.sagas import crash as saga_crash


class Killed(BaseException):
    """Raised in place of SIGKILL."""


@pytest.fixture
def kills(monkeypatch):
    seen: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        seen.append((pid, sig))
        raise Killed

    monkeypatch.setattr("django_interlink.crash.os.kill", kill)
    return seen


def test_the_default_hook_kills_only_at_the_point_its_variable_names(monkeypatch, kills, caplog):
    points = CrashPoints("TEST_CRASH_AT", "test", logging.getLogger("tests.crash"))
    points.crash_point("anywhere")  # the variable unset: nothing happens
    monkeypatch.setenv("TEST_CRASH_AT", "here")
    points.crash_point("elsewhere")
    assert kills == []
    with pytest.raises(Killed):
        points.crash_point("here")
    assert kills == [(os.getpid(), signal.SIGKILL)]
    assert "test crash point here reached" in caplog.text


def test_the_areas_read_their_own_variables(monkeypatch, kills):
    monkeypatch.setenv(saga_crash.CRASH_ENV, "window:before_commit")
    events_crash.crash_point("window:before_commit")  # SAGA_CRASH_AT does not name events' points
    assert kills == []
    monkeypatch.setenv(events_crash.CRASH_ENV, "window:before_commit")
    with pytest.raises(Killed):
        events_crash.crash_point("window:before_commit")


def test_a_hook_installed_for_the_sagas_leaves_the_consumers_alone(kills):
    seen: list[str] = []
    with saga_crash.installed(seen.append):
        saga_crash.crash_point("after_action:a")
        events_crash.crash_point("window:before_commit")
    assert seen == ["after_action:a"]
    saga_crash.crash_point("after_action:a")  # the default hook is back
    assert seen == ["after_action:a"]
