"""The static registry, its instances read from a file at every lookup, so a test can change
them under running worker processes (settings are read once per process)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings

from django_interlink.registry.static import StaticRegistry


class FileRegistry(StaticRegistry):
    """StaticRegistry whose INSTANCES are settings.CHAOS_INSTANCES_FILE's JSON, read each time."""

    def urls(self, name: str) -> list[str]:
        path = str(getattr(settings, "CHAOS_INSTANCES_FILE", ""))
        instances: dict[str, Any] = json.loads(Path(path).read_text()) if path else {}
        if name in instances:
            return [str(url) for url in instances[name]]
        return super().urls(name)


def write_instances(path: Path, instances: dict[str, list[str]]) -> None:
    """Replace the file in one rename: a worker reads the old instances or the new, never half."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(instances))
    os.replace(partial, path)
