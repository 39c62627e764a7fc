"""Register this service (HTTP check on its /health/ready/), block, deregister on SIGTERM/SIGINT.

As a container entrypoint: `manage.py register_service -- gunicorn project.wsgi` registers,
runs the server as a child (forwarding SIGTERM/SIGINT to it) and deregisters when it exits.
Without a command it just blocks until signalled.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_interlink.exceptions import RegistryError
from django_interlink.management.arguments import positive
from django_interlink.registry.registration import (
    Registration,
    registration_from_settings,
    service_deregister,
    service_register,
)


class Command(BaseCommand):
    help = __doc__.splitlines()[0] if __doc__ else ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="service name (REGISTRY SERVICE_NAME)")
        parser.add_argument("--address", help="address others reach it at (SERVICE_ADDRESS)")
        parser.add_argument("--port", type=positive(int), help="port it listens on (SERVICE_PORT)")
        parser.add_argument("--health-check-url", help="default http://ADDRESS:PORT/health/ready/")
        parser.add_argument("--tag", action="append", dest="tags", help="repeatable")
        parser.add_argument("--meta", action="append", default=[], help="KEY=VALUE, repeatable")
        parser.add_argument(
            "--register-timeout",
            type=float,
            default=30.0,
            help="keep retrying while the registry is unreachable (seconds)",
        )
        parser.add_argument("command", nargs="*", help="optional command to run (after --)")

    def handle(self, *args: Any, **options: Any) -> None:
        meta: dict[str, str] = {}
        for item in options["meta"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--meta wants KEY=VALUE, got {item!r}")
            meta[key] = value
        registration = registration_from_settings(
            name=options["name"],
            address=options["address"],
            port=options["port"],
            health_check_url=options["health_check_url"],
            tags=options["tags"],
            meta=meta,
        )
        # Handlers first: a SIGTERM right after registering must still deregister. They only
        # record the signal (and pass it on to the child): taking locks in a handler can deadlock.
        received: list[int] = []
        child: subprocess.Popen[bytes] | None = None

        def on_signal(signum: int, frame: FrameType | None) -> None:
            received.append(signum)
            if child is not None and child.returncode is None:
                child.send_signal(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            service_id = self._register(registration, options["register_timeout"])
            exit_code = 0
            try:
                if options["command"] and not received:
                    try:
                        child = subprocess.Popen(options["command"])
                    except OSError as exc:  # deregistered below all the same
                        raise CommandError(f"cannot run {options['command'][0]!r}: {exc}") from exc
                    exit_code = child.wait()
                    if exit_code < 0:  # killed by a signal: report it the way a shell does
                        exit_code = 128 - exit_code
                else:
                    while not received:
                        time.sleep(0.2)
            finally:
                exit_code = self._deregister(service_id) or exit_code
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if exit_code:
            sys.exit(exit_code)

    def _register(self, registration: Registration, wait: float) -> str:
        try:
            service_id = service_register(registration, wait=wait)
        except RegistryError as exc:
            raise CommandError(f"could not register {registration.name}: {exc}") from exc
        self.stdout.write(f"registered {service_id} (check {registration.health_check_url})")
        self.stdout.flush()
        return service_id

    def _deregister(self, service_id: str) -> int:
        """Deregister; returns an exit code (1 when the registry could not be told)."""
        try:
            service_deregister(service_id)
        except RegistryError as exc:
            self.stderr.write(f"could not deregister {service_id}: {exc}")
            return 1
        finally:
            self.stdout.flush()
        self.stdout.write(f"deregistered {service_id}")
        self.stdout.flush()
        return 0
