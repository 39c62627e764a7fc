"""Dead-letter operations, what `manage.py dead_letters` and the admin both call.

    with dead_letter_box(group="billing") as box:       # the configured bus's box, closed after
        letters = dead_letters_list(box=box, event_type="order.created", since=parse_duration("2h"))
        dead_letters_replay(box=box, ids=[letters[0].id])
        dead_letters_discard(box=box, every=True, event_type="order.cancelled")

Selecting is strict: an id that is not among the dead letters is an error before anything is
done (`DeadLetterNotFound`), and `every` with a type takes only that type's. A broker that
cannot be reached is a `BusUnavailable`, whatever the bus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pika.exceptions as pe
import redis.exceptions as rx

from ..exceptions import BusUnavailable, DeadLetterNotFound
from .backends import build_bus
from .dead_letters import DeadLetter, DeadLetterBox

T = TypeVar("T")

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"(\d+)([smhdw])")
# What a broker raises when it cannot be reached or refuses the connection.
BROKER_ERRORS: tuple[type[BaseException], ...] = (OSError, pe.AMQPError, rx.RedisError)


def parse_duration(text: str) -> timedelta:
    """ "90s", "15m", "2h", "7d", "1w", or several at once ("1h30m")."""
    value = text.strip().lower()
    parts = DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {text!r} (say 90s, 15m, 2h, 7d or 1h30m)")
    return timedelta(seconds=sum(int(n) * UNITS[u] for n, u in parts))


@contextmanager
def dead_letter_box(
    *, backend: str | None = None, group: str | None = None
) -> Iterator[DeadLetterBox]:
    """The dead letters of `group` on a bus built for the occasion (default: the configured
    one), closed afterwards."""
    bus = build_bus(backend)
    try:
        yield bus.dead_letter_box(group)
    finally:
        bus.close()


def dead_letters_list(
    *, box: DeadLetterBox, event_type: str | None = None, since: timedelta | None = None
) -> list[DeadLetter]:
    """The dead letters, oldest first, of one type and last failed within `since` if given."""
    letters = _broker(box.read)
    if event_type:
        letters = [letter for letter in letters if letter.event_type == event_type]
    if since is not None:
        cutoff = datetime.now(UTC) - since
        letters = [
            letter
            for letter in letters
            if letter.last_failure is not None and letter.last_failure >= cutoff
        ]
    return letters


def dead_letter_show(*, box: DeadLetterBox, letter_id: str) -> DeadLetter:
    letter = _broker(lambda: box.get(letter_id))
    if letter is None:
        raise DeadLetterNotFound(f"no dead letter {letter_id} in group {box.group}")
    return letter


def dead_letters_select(
    *,
    box: DeadLetterBox,
    ids: Sequence[str] = (),
    every: bool = False,
    event_type: str | None = None,
) -> list[str]:
    """The ids an operation is to act on: `ids` (each must exist, and be of `event_type` if
    given) or, with `every`, all of them (of `event_type` if given). Not both, not neither."""
    if bool(ids) == every:
        raise ValueError("name the dead letters by id, or say --all (not both)")
    letters = dead_letters_list(box=box, event_type=event_type)
    if every:
        return [letter.id for letter in letters]
    known = {letter.id for letter in letters}
    missing = [letter_id for letter_id in ids if letter_id not in known]
    if missing:
        of_type = f" of type {event_type}" if event_type else ""
        raise DeadLetterNotFound(
            f"no dead letter{of_type} in group {box.group} with id {', '.join(missing)}"
        )
    return list(dict.fromkeys(ids))


def dead_letters_replay(
    *,
    box: DeadLetterBox,
    ids: Sequence[str] = (),
    every: bool = False,
    event_type: str | None = None,
) -> list[str]:
    """Send the selected dead letters back to their group; the ids the broker confirmed."""
    return _on_chosen(box.replay, box=box, ids=ids, every=every, event_type=event_type)


def dead_letters_discard(
    *,
    box: DeadLetterBox,
    ids: Sequence[str] = (),
    every: bool = False,
    event_type: str | None = None,
) -> list[str]:
    """Remove the selected dead letters for good; the ids removed."""
    return _on_chosen(box.discard, box=box, ids=ids, every=every, event_type=event_type)


def _on_chosen(
    act: Callable[[list[str]], list[str]],
    *,
    box: DeadLetterBox,
    ids: Sequence[str],
    every: bool,
    event_type: str | None,
) -> list[str]:
    """`act` on the dead letters the arguments select (nothing selected: nothing done)."""
    chosen = dead_letters_select(box=box, ids=ids, every=every, event_type=event_type)
    return _broker(lambda: act(chosen)) if chosen else []


def _broker(call: Callable[[], T]) -> T:
    try:
        return call()
    except BROKER_ERRORS as exc:
        raise BusUnavailable(
            f"the broker could not be reached: {type(exc).__name__}: {exc}"
        ) from exc
