"""The replay rule the report, the docs' recorded scenes and the playground share."""

from __future__ import annotations

from project.demo.report.replays import KeyedCall, replay_note, replay_of


def test_a_marked_call_replays_the_first_call_with_its_service_and_key():
    """Lost response then keyed retry: the retry (marked by the stub) replays call 0."""
    calls = [
        KeyedCall("inventory", None, replayed=False),
        KeyedCall("inventory", "k1", replayed=False),
        KeyedCall("inventory", "k1", replayed=True),
        KeyedCall("inventory", "k1", replayed=True),
    ]
    assert replay_of(calls) == [None, None, 1, 1]


def test_same_key_without_the_stubs_mark_is_a_call_run_again_not_a_replay():
    """A 503 is not stored: the retry with the same key runs again, the stub does not mark it."""
    calls = [KeyedCall("payments", "k1", replayed=False), KeyedCall("payments", "k1", False)]
    assert replay_of(calls) == [None, None]


def test_the_key_is_scoped_by_service_and_a_mark_needs_an_earlier_call():
    """The same key at another service is another key; a marked first call points nowhere."""
    calls = [
        KeyedCall("payments", "k1", replayed=True),
        KeyedCall("inventory", "k1", replayed=True),
        KeyedCall("payments", "k1", replayed=True),
    ]
    assert replay_of(calls) == [None, None, 0]


def test_the_note_names_when_the_replayed_call_was_received():
    assert replay_note(449.4) == (
        "replayed: same Idempotency-Key as +449 ms, answered from the stub's idempotency store"
    )
