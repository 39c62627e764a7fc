"""Consume windows: N messages in one transaction, tried at once (one inbox INSERT, no
savepoint) and decided again a savepoint a message after a failure; only failures retried."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

from django_interlink.events import consumer
from django_interlink.events.budget import ConsumeBudget
from django_interlink.events.consumer import Dispatcher, Outcome
from django_interlink.events.handlers import HandlerRegistry
from django_interlink.events.window import Window
from django_interlink.exceptions import PermanentHandlerError, RetryableHandlerError
from django_interlink.models import InboxEvent
from shop.event_samples import sample_envelope
from shop.models import UserProfile

pytestmark = pytest.mark.django_db


def user_created():
    """A user.created event of its own user (profiles are unique per user)."""
    return sample_envelope("user.created", user_id=str(uuid.uuid4()))


def profile_registry(fail: dict[str, type[Exception]]):
    """user.created writes a profile; the event ids in `fail` raise their error after writing."""
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.window.profile")
    def handler(envelope):
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )
        if envelope.event_id in fail:
            raise fail[envelope.event_id]("not this one")

    return registry


def test_a_failing_message_rolls_back_only_its_own_savepoint(memory_bus):
    """In a window of 5, the retried and the dead one keep nothing; the other 3 keep all."""
    events = [user_created() for _ in range(5)]
    retried, dead = events[1], events[3]
    registry = profile_registry({retried.event_id: RetryableHandlerError, dead.event_id: KeyError})
    results = Dispatcher(registry, max_deliveries=3).dispatch_window(
        [(e.to_bytes(), 1) for e in events[:3]] + [(e.to_bytes(), 3) for e in events[3:]]
    )
    assert [r.outcome for r in results] == [
        Outcome.ACK,
        Outcome.RETRY,
        Outcome.ACK,
        Outcome.DEAD,  # its third delivery: MAX_DELIVERIES reached
        Outcome.ACK,
    ]
    kept = {events[0].event_id, events[2].event_id, events[4].event_id}
    assert {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)} == kept
    assert {str(u) for u in UserProfile.objects.values_list("user_id", flat=True)} == {
        events[i].data["user_id"] for i in (0, 2, 4)
    }


@contextmanager
def statements() -> Iterator[Counter[str]]:
    """SAVEPOINT and inbox INSERT statements sent while inside (the test's own queries too)."""
    sent: Counter[str] = Counter()
    table = InboxEvent._meta.db_table

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        word = sql.split(None, 1)[0].upper()
        if word == "SAVEPOINT" or (word == "INSERT" and table in sql):
            sent["inbox INSERT" if word == "INSERT" else word] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield sent


def counting_registry(fail: dict[str, type[Exception]]) -> tuple[HandlerRegistry, Counter[str]]:
    """user.created writes a profile, counting its calls by event id; `fail` as above."""
    calls: Counter[str] = Counter()
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.window.counted")
    def handler(envelope):
        calls[envelope.event_id] += 1
        UserProfile.objects.create(
            user_id=envelope.data["user_id"], email=envelope.data["email"], name="x"
        )
        if envelope.event_id in fail:
            raise fail[envelope.event_id]("not this one")

    return registry, calls


def handled_ids() -> set[str]:
    return {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)}


@pytest.mark.django_db(transaction=True)
def test_a_window_that_succeeds_takes_one_inbox_insert_and_no_savepoint(memory_bus):
    """5 messages, two inbox handlers and one without: all rows in one INSERT, no savepoint,
    every handler run once per message."""
    events = [user_created() for _ in range(5)]
    calls: Counter[str] = Counter()
    registry = HandlerRegistry()
    for name in ("test.window.a", "test.window.b"):
        registry.add("user.created", lambda e, name=name: calls.update([name]), name=name)
    registry.add("user.created", lambda e: calls.update(["plain"]), name="p", use_inbox=False)
    with statements() as sent:
        results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK] * 5
    assert sent == {"inbox INSERT": 1}
    assert calls == {"test.window.a": 5, "test.window.b": 5, "plain": 5}
    assert InboxEvent.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_after_a_failure_the_window_is_decided_again_a_savepoint_a_message(memory_bus):
    """Message 3 of 5 fails: the try at once is rolled back, then the others run again, each in
    its own savepoint, and commit; the failing one keeps its verdict without running twice."""
    events = [user_created() for _ in range(5)]
    failing = events[2]
    registry, calls = counting_registry({failing.event_id: RetryableHandlerError})
    with statements() as sent:
        results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    ack, retry = Outcome.ACK, Outcome.RETRY
    assert [r.outcome for r in results] == [ack, ack, retry, ack, ack]
    assert "not this one" in results[2].reason
    # once in the try at once (1, 2 and the failure), again one by one (the others)
    assert [calls[e.event_id] for e in events] == [2, 2, 1, 1, 1]
    assert sent == {"inbox INSERT": 1 + 4, "SAVEPOINT": 4}
    kept = {e.event_id for e in events} - {failing.event_id}
    assert handled_ids() == kept
    assert {str(u) for u in UserProfile.objects.values_list("user_id", flat=True)} == {
        e.data["user_id"] for e in events if e.event_id in kept
    }


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_a_window_runs_again_in_its_own_savepoint(memory_bus):
    """A unique violation may break the whole transaction, so its message is not judged by the
    try at once: it runs again in its savepoint, fails there alone, and the others commit."""
    first, last = user_created(), user_created()
    clash = sample_envelope("user.created", user_id=first.data["user_id"])
    registry, calls = counting_registry({})
    with statements() as sent:
        results = Dispatcher(registry).dispatch_window(
            [(e.to_bytes(), 1) for e in (first, clash, last)]
        )
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.RETRY, Outcome.ACK]
    assert "IntegrityError" in results[1].reason
    assert [calls[e.event_id] for e in (first, clash, last)] == [2, 2, 1]
    assert sent["SAVEPOINT"] == 3
    assert handled_ids() == {first.event_id, last.event_id}
    assert UserProfile.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_duplicates_in_a_window_are_skipped(memory_bus):
    """An event handled by an earlier window, and one delivered twice in this window: each
    handler runs once per event, the window needs no savepoint, and all are ACKed."""
    old, new, other = user_created(), user_created(), user_created()
    registry, calls = counting_registry({})
    Dispatcher(registry).dispatch_window([(old.to_bytes(), 1)])
    with statements() as sent:
        results = Dispatcher(registry).dispatch_window(
            [(e.to_bytes(), 1) for e in (new, old, new, other)]
        )
    assert [r.outcome for r in results] == [Outcome.ACK] * 4
    assert calls == {old.event_id: 1, new.event_id: 1, other.event_id: 1}
    assert sent == {"inbox INSERT": 1}
    assert handled_ids() == {old.event_id, new.event_id, other.event_id}


@pytest.mark.django_db(transaction=True)
def test_stopping_while_a_failing_window_is_tried_keeps_the_messages_in_hand(memory_bus):
    """SIGTERM arrives during message 2 of 5, which fails: decided again one by one, messages 1
    and 2 are still decided (they were in hand), the other 3 are left for the broker."""
    events = [user_created() for _ in range(5)]
    stop = threading.Event()
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.window.stop_and_fail")
    def handler(envelope):
        UserProfile.objects.create(user_id=envelope.data["user_id"], email="a@b.c", name="x")
        if envelope.event_id == events[1].event_id:
            stop.set()
            raise RetryableHandlerError("and stopping")

    results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events], stop=stop)
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.RETRY]
    assert handled_ids() == {events[0].event_id}
    assert UserProfile.objects.count() == 1


class Crash(Exception):
    """What the test's crash point raises instead of killing the process."""


@pytest.mark.django_db(transaction=True)
def test_a_crash_before_the_window_commit_keeps_nothing_and_the_replay_applies_each_once(
    memory_bus, monkeypatch
):
    """All of a window's effects wait for one commit: dying at the crash point between the
    handlers and the commit leaves no row at all, and the redelivered window applies each once."""
    events = [user_created() for _ in range(3)]
    registry = profile_registry({})
    window = [(e.to_bytes(), 1) for e in events]

    def crash(name):
        if name == "window:before_commit":
            raise Crash(name)

    monkeypatch.setattr(consumer, "crash_point", crash)
    with pytest.raises(Crash):
        Dispatcher(registry).dispatch_window(window)
    assert (UserProfile.objects.count(), InboxEvent.objects.count()) == (0, 0)
    monkeypatch.undo()
    assert [r.outcome for r in Dispatcher(registry).dispatch_window(window)] == [Outcome.ACK] * 3
    again = Dispatcher(registry).dispatch_window(window)  # redelivered after the commit: no-op
    assert [r.outcome for r in again] == [Outcome.ACK] * 3
    assert (UserProfile.objects.count(), InboxEvent.objects.count()) == (3, 3)


@pytest.mark.django_db(transaction=True)
def test_prepare_steps_run_before_the_window_transaction(memory_bus):
    """Prepares run outside the transaction, their result reaches the handler, and a prepare that
    fails retries its message only."""
    events = [user_created() for _ in range(3)]
    seen: list[tuple[str, bool]] = []
    applied: dict[str, str] = {}
    registry = HandlerRegistry()

    def lookup(envelope):
        seen.append((envelope.event_id, transaction.get_connection().in_atomic_block))
        if envelope.event_id == events[1].event_id:
            raise RetryableHandlerError("service down")
        return f"looked up {envelope.event_id}"

    @registry.handler("user.created", name="test.window.prepared", prepare=lookup)
    def handler(envelope, looked_up):
        applied[envelope.event_id] = looked_up

    results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events])
    assert [r.outcome for r in results] == [Outcome.ACK, Outcome.RETRY, Outcome.ACK]
    assert seen == [(e.event_id, False) for e in events]
    assert applied == {e.event_id: f"looked up {e.event_id}" for e in (events[0], events[2])}
    # redelivered: an event already in the inbox is not prepared again, nor applied
    seen.clear()
    Dispatcher(registry).dispatch_window([(events[0].to_bytes(), 2)])
    assert seen == []


def test_permanent_error_and_poison_in_a_window_are_dead_only_themselves(memory_bus):
    """A contract violation and a PermanentHandlerError go DEAD; the window's others are ACKed."""
    good, bad = user_created(), user_created()
    registry = profile_registry({bad.event_id: PermanentHandlerError})
    results = Dispatcher(registry).dispatch_window(
        [(b"not json", 1), (bad.to_bytes(), 1), (good.to_bytes(), 1)]
    )
    assert [r.outcome for r in results] == [Outcome.DEAD, Outcome.DEAD, Outcome.ACK]
    assert [str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)] == [
        good.event_id
    ]


def test_window_is_due_when_full_when_the_budget_needs_no_more_or_when_stopping():
    """Full, budget reached, or stop: due at once; otherwise not before the wait. What is
    collected beyond one window is kept, in order, for the next."""
    stop = threading.Event()
    full: Window[int] = Window(2, 60.0, ConsumeBudget(max_messages=None, idle_timeout=None))
    full.add(1)
    assert full.due(stop) is False
    for item in (2, 3):
        full.add(item)
    assert full.due(stop) is True
    assert full.take() == [1, 2]
    assert (full.pending, full.due(stop)) == ([3], False)
    budget = ConsumeBudget(max_messages=1, idle_timeout=None)
    one: Window[int] = Window(50, 60.0, budget)
    one.add(1)
    assert (one.due(stop), one.limit()) == (True, 1)
    waiting: Window[int] = Window(50, 60.0, ConsumeBudget(max_messages=None, idle_timeout=None))
    waiting.add(1)
    assert waiting.due(stop) is False
    stop.set()
    assert waiting.due(stop) is True


def test_a_quiet_window_is_due_once_its_wait_has_passed():
    """One message in a window of 50 does not wait for 49 more: once the wait is over it is due,
    and the backend is told to block no longer than what is left of the wait."""
    window: Window[int] = Window(50, 0.01, ConsumeBudget(max_messages=None, idle_timeout=None))
    assert window.time_limit(0.5) == 0.5
    window.add(1)
    assert window.time_limit(0.5) <= 0.01
    threading.Event().wait(0.02)
    assert window.due(threading.Event()) is True
    assert window.time_limit(0.5) == 0.0


def test_a_failed_message_keeps_nothing_even_from_handlers_without_the_inbox(memory_bus):
    """The message's savepoint covers all its handlers: the writes of one that runs without the
    inbox, and of an earlier handler that succeeded, go with the failure; the window's other
    message keeps its effects."""
    failing, fine = user_created(), user_created()
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.window.first")
    def first(envelope):
        UserProfile.objects.create(user_id=envelope.data["user_id"], email="a@b.c", name="x")

    @registry.handler("user.created", name="test.window.no_inbox", use_inbox=False)
    def no_inbox(envelope):
        UserProfile.objects.filter(user_id=envelope.data["user_id"]).update(name="touched")
        if envelope.event_id == failing.event_id:
            raise RetryableHandlerError("not this one")

    results = Dispatcher(registry).dispatch_window([(failing.to_bytes(), 1), (fine.to_bytes(), 1)])
    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.ACK]
    assert list(UserProfile.objects.values_list("name", flat=True)) == ["touched"]
    assert [str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)] == [
        fine.event_id
    ]


def test_a_redis_window_reads_up_to_the_window_within_the_budget():
    """CONSUME_WINDOW entries a read (the per-entry path keeps its small batch), never more
    than the budget still wants; building the client connects to nothing."""
    from django_interlink.events.backends import bus_settings
    from django_interlink.events.redis_stream_run import StreamRun
    from django_interlink.events.redis_streams import RedisStreamsBus

    def run(window: int, max_messages: int | None) -> StreamRun:
        bus = RedisStreamsBus.from_config(
            bus_settings(redis_url="redis://127.0.0.1:1/0", consume_window=window)
        )
        budget = ConsumeBudget(max_messages=max_messages, idle_timeout=None)
        return StreamRun(bus, Dispatcher(HandlerRegistry()), "g", "c", budget)

    assert (run(50, None).windowed, run(50, None).read_count()) == (True, 50)
    assert (run(1, None).windowed, run(1, None).read_count()) == (False, RedisStreamsBus.batch)
    near_the_end = run(50, 60)
    for _ in range(45):
        near_the_end.budget.settled_one()
    assert near_the_end.read_count() == 15


@pytest.mark.django_db(transaction=True)
def test_stopping_ends_the_window_after_the_message_in_hand(memory_bus):
    """SIGTERM during message 2 of 5: messages 1 and 2 are decided and committed, the other 3
    get no result (the backend leaves them unsettled, for the broker to hand on)."""
    events = [user_created() for _ in range(5)]
    stop = threading.Event()
    registry = HandlerRegistry()

    @registry.handler("user.created", name="test.window.stopping")
    def handler(envelope):
        UserProfile.objects.create(user_id=envelope.data["user_id"], email="a@b.c", name="x")
        if envelope.event_id == events[1].event_id:
            stop.set()

    results = Dispatcher(registry).dispatch_window([(e.to_bytes(), 1) for e in events], stop=stop)
    assert [(r.outcome, r.envelope and r.envelope.event_id) for r in results] == [
        (Outcome.ACK, e.event_id) for e in events[:2]
    ]
    assert {str(i) for i in InboxEvent.objects.values_list("event_id", flat=True)} == {
        e.event_id for e in events[:2]
    }
    assert UserProfile.objects.count() == 2
