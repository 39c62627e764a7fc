"""The files the playground's processes share in PLAYGROUND_DIR: one place for their names.

The page arms the worker's kill with a flag file, the launcher's supervisor writes what it
knows of the worker processes, the launcher writes the customers it created in the users stub,
every process writes its spans into the traces folder.
Each is written whole and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

# Present: the next worker to finish a charge dies there (it removes the flag first).
KILL_AFTER_CHARGE = "kill-worker-after-charge"
# Written by the worker that killed itself, read by the supervisor.
LAST_KILL = "last-kill.json"
# The supervisor's account of the worker processes (pid, starts, exits).
WORKERS = "workers.json"
# The customers the launcher created in the users stub: [{"id", "name", "email"}].
CUSTOMERS = "customers.json"
# Where every playground process exports its spans, one JSON-lines file each (the collector).
TRACES = "traces"


def playground_dir() -> Path:
    """PLAYGROUND_DIR of project.settings.playground (the settings mypy reads do not have it)."""
    return Path(getattr(settings, "PLAYGROUND_DIR"))  # noqa: B009


def write_json(path: Path, value: Any) -> None:
    """Write `value` as JSON to a temp file beside `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        json.dump(value, out)
    os.replace(tmp, path)


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
