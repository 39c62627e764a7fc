"""Before Django starts: a private folder, the four stubs on free ports, the environment.

The stubs need no Django, and the settings read their URLs and token from the environment, so
the stubs come first; the saga worker process inherits the same environment.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import django

from django_interlink.tracing import tracing_setup
from mock_services.testing import StubServer
from project.playground.files import TRACES

SERVICES = ("users", "orders", "payments", "inventory")


@dataclass
class Prepared:
    folder: Path
    token: str
    stubs: dict[str, StubServer]
    stack: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        self.stack.close()


def prepare() -> Prepared:
    """Start the stubs, export the playground's environment and set Django up."""
    folder = Path(tempfile.mkdtemp(prefix="interlink-playground-"))
    token = secrets.token_urlsafe(24)  # lives only in this process and its worker
    stack = ExitStack()
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    stubs = {name: stack.enter_context(StubServer(name, token)) for name in SERVICES}
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.playground",
            "PLAYGROUND_DIR": str(folder),
            "SERVICES_API_KEY": token,
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
            **{f"{name.upper()}_SERVICE_URL": stub.url for name, stub in stubs.items()},
        }
    )
    # Every process exports its spans into the folder (the page's waterfall reads them).
    (folder / TRACES).mkdir()
    os.environ.update(
        {
            "OTEL_TRACES_EXPORTER": "jsonfile",
            "INTERLINK_TRACES_FILE": str(folder / TRACES / "spans-{pid}.jsonl"),
        }
    )
    os.environ.pop("OTEL_SDK_DISABLED", None)
    unset = [f"{name.upper()}_SERVICE_API_KEY" for name in SERVICES]
    for variable in ("DATABASE_URL", "EVENT_BUS_BACKEND", "SQLITE_PATH", *unset):
        os.environ.pop(variable, None)
    # Before Django loads its middleware: the server's requests get their spans.
    tracing_setup(service_name="playground")
    django.setup()
    return Prepared(folder=folder, token=token, stubs=stubs, stack=stack)
