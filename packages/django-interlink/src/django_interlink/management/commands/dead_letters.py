"""List, show, replay and discard a consumer group's dead letters (RabbitMQ or Redis Streams).

    manage.py dead_letters list [--group G] [--type T] [--since DURATION] [--json]
    manage.py dead_letters show ID [--group G]
    manage.py dead_letters replay (ID ... | --all) [--group G] [--type T]
    manage.py dead_letters discard (ID ... | --all) [--group G] [--type T] --yes

`--group` defaults to CONSUMER_GROUP, `--bus` to the configured backend. Reading removes
nothing; a replay goes back to the group's queue or stream with its event id (the inbox keeps
it to one effect) and leaves the dead letters once the broker confirmed the copy.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_interlink.events.backends import BACKENDS
from django_interlink.events.dead_letter_service import (
    dead_letter_box,
    dead_letter_show,
    dead_letters_discard,
    dead_letters_list,
    dead_letters_replay,
    parse_duration,
)
from django_interlink.events.dead_letters import DeadLetter
from django_interlink.exceptions import EventError

COLUMNS = (
    "id",
    "event_id",
    "event_type",
    "group",
    "attempts",
    "replays",
    "first_failure",
    "last_failure",
    "reason",
)


class Command(BaseCommand):
    help = "List, show, replay or discard dead letters of a consumer group."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def action(name: str, help: str) -> CommandParser:
            sub: CommandParser = actions.add_parser(name, help=help)
            sub.add_argument("--group", help="consuming service (default: CONSUMER_GROUP)")
            sub.add_argument("--bus", choices=BACKENDS, help="backend (default: EVENT_BUS)")
            return sub

        listing = action("list", "the dead letters, oldest first; nothing is removed")
        listing.add_argument("--type", dest="event_type", help="only this event type")
        listing.add_argument("--since", help="only those that failed last within, e.g. 2h")
        listing.add_argument("--json", action="store_true", help="one JSON array")
        show = action("show", "one dead letter: headers, attempt history, body")
        show.add_argument("id")
        for name, what in (
            ("replay", "back to the group's queue or stream, event id kept"),
            ("discard", "remove for good (asks for --yes)"),
        ):
            sub = action(name, what)
            sub.add_argument("ids", nargs="*", metavar="ID")
            sub.add_argument("--all", action="store_true", dest="every", help="every one")
            sub.add_argument("--type", dest="event_type", help="only this event type")
            if name == "discard":
                sub.add_argument("--yes", action="store_true", help="yes, remove them")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "discard" and not options["yes"]:
            raise CommandError("discard removes dead letters for good: add --yes to confirm")
        since = self._since(options.get("since"))
        try:
            with dead_letter_box(backend=options["bus"], group=options["group"]) as box:
                if action == "list":
                    letters = dead_letters_list(
                        box=box, event_type=options["event_type"], since=since
                    )
                    self._list(letters, as_json=options["json"])
                elif action == "show":
                    letter = dead_letter_show(box=box, letter_id=options["id"])
                    self.stdout.write(json.dumps(letter.details(), indent=2))
                else:
                    operate = dead_letters_replay if action == "replay" else dead_letters_discard
                    done = operate(
                        box=box,
                        ids=options["ids"],
                        every=options["every"],
                        event_type=options["event_type"],
                    )
                    verb = "replayed" if action == "replay" else "discarded"
                    self.stdout.write(f"{verb} {len(done)}: {' '.join(done)}".rstrip(": "))
        except (EventError, ValueError, LookupError, NotImplementedError) as exc:
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _since(text: str | None) -> timedelta | None:
        if text is None:
            return None
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _list(self, letters: list[DeadLetter], *, as_json: bool) -> None:
        rows = [letter.summary() for letter in letters]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no dead letters")
            return
        self.stdout.write("\t".join(COLUMNS))
        for row in rows:
            self.stdout.write("\t".join(str(row[column]) for column in COLUMNS))
