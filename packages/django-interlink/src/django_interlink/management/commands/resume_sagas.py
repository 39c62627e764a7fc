"""Worker: claim stale or unclaimed sagas (lease expired) and run each to a terminal state.

manage.py resume_sagas               # loop until SIGTERM/SIGINT (finishes the saga in hand)
manage.py resume_sagas --until-idle  # until nothing is claimable (tests, benchmarks)
manage.py resume_sagas --saga-id ID  # one saga (operators)
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from django_interlink.backoff import exponential_backoff
from django_interlink.management.arguments import non_negative, positive
from django_interlink.management.shutdown import stop_on_signals
from django_interlink.models import SagaExecution
from django_interlink.sagas.services import saga_resume, saga_resume_stale, worker_id

logger = logging.getLogger("django_interlink.sagas.resume")


class Command(BaseCommand):
    help = (
        "Resume sagas left running by a dead process (or created without a runner). Several "
        "workers may run at once: each saga is claimed with FOR UPDATE SKIP LOCKED and a lease."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="one pass over the claimable sagas, then exit"
        )
        parser.add_argument(
            "--until-idle",
            action="store_true",
            help="keep claiming until no saga is claimable, then exit",
        )
        parser.add_argument(
            "--saga-id", help="resume this one saga (if its lease is free), then exit"
        )
        parser.add_argument(
            "--batch", type=positive(int), default=10, help="sagas per pass (default 10)"
        )
        parser.add_argument(
            "--poll-interval",
            type=non_negative(float),
            default=1.0,
            help="seconds between idle passes",
        )
        parser.add_argument(
            "--lease-seconds",
            type=positive(float),
            default=None,
            help="lease length (default INTERLINK['SAGA']['LEASE_SECONDS'])",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = worker_id()
        if options["saga_id"]:
            try:
                one = saga_resume(
                    saga_id=options["saga_id"], owner=owner, lease_seconds=options["lease_seconds"]
                )
            except SagaExecution.DoesNotExist:
                raise CommandError(f"no saga has the id {options['saga_id']!r}") from None
            self.stdout.write(f"{one.saga_id} {one.status}")
            return
        total = 0
        outages = 0  # passes in a row the database refused: the wait grows, capped
        # Finish the saga in hand, then exit; a kill instead only costs a lease expiry.
        with stop_on_signals(logger, "the saga in hand") as stop:
            while not stop.is_set():
                done = 0
                while done < options["batch"] and not stop.is_set():
                    try:
                        results = saga_resume_stale(
                            owner=owner, limit=1, lease_seconds=options["lease_seconds"]
                        )
                    except DatabaseError as exc:
                        # The database is down or restarting: wait it out, as the relay does.
                        outages += 1
                        pause = exponential_backoff(
                            outages, base=max(options["poll_interval"], 0.5), cap=30
                        )
                        logger.warning("database error (%s); retrying in %.1fs", exc, pause)
                        close_old_connections()
                        stop.wait(pause)
                        continue
                    outages = 0
                    if not results:
                        break
                    for result in results:
                        self.stdout.write(f"{result.saga_id} {result.status}")
                    done += 1
                total += done
                if options["once"] or (options["until_idle"] and not done):
                    break
                if not done:
                    stop.wait(options["poll_interval"])
        self.stdout.write(f"resumed {total} saga(s)")
