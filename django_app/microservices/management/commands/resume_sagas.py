"""Worker: claim stale or unclaimed sagas (lease expired) and run each to a terminal state."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from microservices.sagas.orchestrator import saga_resume, saga_resume_stale, worker_id


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
        parser.add_argument("--batch", type=int, default=10, help="sagas per pass (default 10)")
        parser.add_argument(
            "--poll-interval", type=float, default=1.0, help="seconds between idle passes"
        )
        parser.add_argument(
            "--lease-seconds",
            type=float,
            default=None,
            help="lease length (default MICROSERVICES['SAGA']['LEASE_SECONDS'])",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = worker_id()
        if options["saga_id"]:
            one = saga_resume(
                saga_id=options["saga_id"], owner=owner, lease_seconds=options["lease_seconds"]
            )
            self.stdout.write(f"{one.saga_id} {one.status}")
            return
        total = 0
        while True:
            results = saga_resume_stale(
                owner=owner, limit=options["batch"], lease_seconds=options["lease_seconds"]
            )
            for result in results:
                self.stdout.write(f"{result.saga_id} {result.status}")
            total += len(results)
            if options["once"] or (options["until_idle"] and not results):
                break
            if not results:
                time.sleep(options["poll_interval"])
        self.stdout.write(f"resumed {total} saga(s)")
