"""`make playground`: the Django server, the outbox relay and the consumer in this process, the
saga worker in its own; one URL and a fresh login printed.

Why this split: the in-memory bus exists inside one process only, so the relay (outbox → bus)
and the consumer (bus → inbox, per handler) are threads of the server's process, sharing its
bus. The saga worker is a separate process, so it can really be killed; it meets the others only
through the database (its steps write the outbox) and the stubs. No HTTP request runs a saga
step: the page places orders through the orders API (POST /api/orders), which stores a PENDING
saga for the worker to claim.

Imported after `bootstrap.prepare()` has set Django up (see `__main__.py`).
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connections

from django_interlink.clients.factory import client_for
from django_interlink.events.backends import get_bus
from django_interlink.events.handlers import load_registry
from django_interlink.events.outbox import outbox_relay_loop
from project.playground import stubs
from project.playground.bootstrap import Prepared
from project.playground.files import CUSTOMERS, write_json
from project.playground.supervisor import WorkerSupervisor
from shop.clients.users import UserServiceClient
from shop.models import Customer

USERNAME = "playground"
RELAY_INTERVAL = 0.1
# Who the page can order as: (account, name, active in the users stub?); "ghost" is linked to a
# users-service id the stub does not have. validate_user rejects the last two.
CUSTOMER_SEEDS = (("ada", "Ada Lovelace", True), ("bob", "Bob (inactive)", False))
GHOST = ("ghost", "Ghost (no such user)")


@dataclass
class Running:
    url: str
    username: str
    password: str
    prepared: Prepared
    stop_event: threading.Event = field(default_factory=threading.Event)
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """What a test needs to drive the playground and check the stubs behind it."""
        return {
            "url": self.url,
            "username": self.username,
            "password": self.password,
            "folder": str(self.prepared.folder),
            "token": self.prepared.token,
            "stubs": {name: stub.url for name, stub in self.prepared.stubs.items()},
        }

    def stop(self) -> None:
        self.stop_event.set()
        for stopper in reversed(self.stoppers):
            stopper()
        self.prepared.close()


def _create_login() -> tuple[str, str]:
    """A superuser with a generated password (printed once; there is no default)."""
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    user = user_model.objects.filter(username=USERNAME).first() or user_model(username=USERNAME)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return USERNAME, password


def _customer(username: str, name: str, user_id: str) -> dict[str, str]:
    """An orders-API account (no password: it orders with the tokens the page gets) linked to
    the users-service user `user_id`."""
    account = get_user_model().objects.create(username=username)
    account.set_unusable_password()
    account.save()
    Customer.objects.create(account=account, user_id=uuid.UUID(user_id))
    return {"username": username, "name": name, "user_id": user_id}


def _seed_customers(folder: Path) -> None:
    users = client_for(UserServiceClient)
    customers = []
    for username, name, active in CUSTOMER_SEEDS:
        email = f"{username}+{secrets.token_hex(3)}@example.com"
        user = users.create_user(email=email, name=name, is_active=active)
        customers.append(_customer(username, name, user["id"]))
    customers.append(_customer(*GHOST, str(uuid.uuid4())))
    write_json(folder / CUSTOMERS, customers)


def _thread(name: str, target: Callable[[], object]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def _start_events(running: Running) -> None:
    """The relay and the consumer, as threads sharing this process's in-memory bus."""
    bus = get_bus("memory")
    registry = load_registry()
    # The consumer's queues exist before the relay's first publish (the memory bus keeps an
    # event only for the queues declared when it is published).
    bus.declare(registry.event_types)
    stop = running.stop_event
    relay = _thread(
        "playground-relay", lambda: outbox_relay_loop(bus=bus, stop=stop, interval=RELAY_INTERVAL)
    )
    consumer = _thread("playground-consumer", lambda: bus.consume(registry=registry, stop=stop))

    def join() -> None:
        relay.join(timeout=10)
        consumer.join(timeout=10)

    running.stoppers.append(join)


class _QuietHandler(WSGIRequestHandler):
    """The page polls twice a second: no access log line per request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _start_server(host: str, port: int) -> tuple[ThreadedWSGIServer, threading.Thread]:
    server = ThreadedWSGIServer((host, port), _QuietHandler, allow_reuse_address=True)
    # Static files (the page's script and style, the admin's) served by Django itself.
    server.set_app(StaticFilesHandler(get_wsgi_application()))

    def serve() -> None:
        close_old_connections()
        server.serve_forever(poll_interval=0.2)

    thread = threading.Thread(target=serve, name="playground-http", daemon=True)
    thread.start()
    return server, thread


def start(prepared: Prepared, *, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Migrate, create the login and customers, start the worker, the events and the server."""
    stubs.register(prepared.stubs)
    call_command("migrate", verbosity=0)
    username, password = _create_login()
    _seed_customers(prepared.folder)
    connections.close_all()
    server, thread = _start_server(host, port)
    url = f"http://{host}:{server.server_address[1]}/playground/"
    running = Running(url=url, username=username, password=password, prepared=prepared)
    supervisor = WorkerSupervisor(prepared.folder, dict(os.environ))
    supervisor.start()
    running.stoppers.append(supervisor.stop)
    _start_events(running)

    def stop_server() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    running.stoppers.append(stop_server)
    return running
