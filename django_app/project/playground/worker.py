"""The playground's saga worker: `manage.py resume_sagas` in its own process, with a kill switch.

`python -m project.playground.worker`, started (and restarted) by the launcher's supervisor.
When the page has armed the switch (the KILL_AFTER_CHARGE flag file), the first saga to finish
its charge kills this process with SIGKILL right there, before the step's success is saved:
the charge happened, the database does not know it. The next worker claims the saga once the
dead one's lease lapses, replays the charge under the same Idempotency-Key and carries on.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import django
from django.core.management import call_command

from django_interlink.sagas import crash
from django_interlink.tracing import tracing_setup

from .files import KILL_AFTER_CHARGE, LAST_KILL, playground_dir, write_json

# The engine's crash point right after process_payment's call returned (see sagas/crash.py).
AFTER_CHARGE = "after_action:process_payment"
POLL_INTERVAL = 0.2


def kill_after_charge(folder: Path) -> crash.CrashHook:
    """The hook: at AFTER_CHARGE, with the flag present, remove the flag and SIGKILL this
    process (as a power cut would: no handler runs, nothing is saved)."""

    def hook(point: str) -> None:
        flag = folder / KILL_AFTER_CHARGE
        if point != AFTER_CHARGE or not flag.exists():
            return
        flag.unlink(missing_ok=True)  # only this worker dies: the next one must finish
        write_json(folder / LAST_KILL, {"pid": os.getpid(), "point": point, "at": time.time()})
        os.kill(os.getpid(), signal.SIGKILL)

    return hook


def stop_with_parent(interval: float = 1.0) -> None:
    """SIGTERM this process (a graceful stop) once the launcher that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.playground")
    stop_with_parent()
    tracing_setup(service_name="saga-worker")  # into the playground's traces folder
    django.setup()
    with crash.installed(kill_after_charge(playground_dir())):
        call_command("resume_sagas", poll_interval=POLL_INTERVAL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
