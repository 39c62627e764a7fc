"""Where the scenes' relay, consumer and saga workers run: in this process on the embedded
stack (the memory bus, a crash that raises), or as separate `manage.py` processes on the real
one (RabbitMQ, PostgreSQL, a real SIGKILL). Scenes ask the stack; they read the same either way.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from django.core import mail

from django_interlink.events.backends import get_bus
from django_interlink.events.bus import EventBus
from django_interlink.events.handlers import load_registry
from django_interlink.events.memory import MemoryBus
from django_interlink.events.outbox import outbox_relay
from django_interlink.events.rabbitmq import RabbitMQBus
from django_interlink.sagas import crash
from django_interlink.sagas.services import saga_create, saga_execute, saga_resume_stale, worker_id
from project.demo.in_process import ProcessKilled, captured_logs, killed_at
from project.demo.recorder import Recorder, event_id_of
from shop.order_processing import ORDER_PROCESSING

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"
EVENT_SCHEMAS = Path(__file__).resolve().parents[3] / "contracts" / "events" / "schemas"
HANDLER_MODULE = "shop.handlers"
CONSUMER_LOG = "django_interlink.events.consumer"


@dataclass(frozen=True)
class Consumed:
    settled: int
    skipped: list[str]  # ids of redeliveries the inbox said were already handled


@dataclass(frozen=True)
class DeadLetterSeen:
    reason: str
    deliveries: int
    event_id: str | None


class Stack(ABC):
    name: ClassVar[str]
    #: how the crash scene's worker dies, for the scene to say
    kill_how: ClassVar[str]

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @property
    @abstractmethod
    def bus(self) -> EventBus: ...

    def group(self, name: str) -> str:
        """The consumer group (queue) a scene names, made this run's own where it must be."""
        return name

    def declare(self, event_types: Sequence[str], *, group: str) -> None:
        self.bus.declare(list(event_types), group=group)

    @abstractmethod
    def _publish_raw(self, event_type: str, body: bytes) -> None: ...

    def publish_raw(self, event_type: str, body: bytes) -> None:
        """Bytes from a foreign producer, straight onto the bus."""
        self._publish_raw(event_type, body)
        self.recorder.note_event(
            "published_raw",
            event_type=event_type,
            event_id=event_id_of(body),
            source="django",
            target="bus",
            detail="a foreign producer's bytes",
        )

    def _note_consumed(self, consumed: Consumed, event_type: str) -> Consumed:
        for event_id in consumed.skipped:
            self.recorder.note_event(
                "skipped", event_type=event_type, event_id=event_id, detail="already handled"
            )
        return consumed

    def _note_dead(self, dead: list[DeadLetterSeen], event_type: str) -> list[DeadLetterSeen]:
        for letter in dead:
            self.recorder.note_event(
                "dead_lettered",
                event_type=event_type,
                event_id=letter.event_id,
                target="dead letters",
                detail=letter.reason,
            )
        return dead

    @abstractmethod
    def _relay(self) -> tuple[int, int]: ...

    def relay(self) -> tuple[int, int]:
        """Relay what is due in the outbox: (sent, refused). Each event sent is drawn from the
        relay's publish span (a row relayed twice, at least once, shows twice)."""
        return self._relay()

    @abstractmethod
    def consume(self, event_type: str, *, group: str, max_messages: int) -> Consumed: ...

    @abstractmethod
    def dead_letters(self, event_type: str, *, group: str) -> list[DeadLetterSeen]:
        """The group's dead letters that arrived since the last look."""

    @abstractmethod
    def mail_subjects(self) -> list[str]:
        """Subjects of every e-mail sent so far, by any of the stack's processes."""

    @abstractmethod
    def _run_until_killed(
        self, *, saga_id: str, context: dict[str, Any], point: str, lease_seconds: float
    ) -> None: ...

    def run_until_killed(
        self, *, saga_id: str, context: dict[str, Any], point: str, lease_seconds: float
    ) -> None:
        """Run a saga in a worker that dies at crash point `point`, leaving it leased."""
        self.recorder.note(f"worker A starts saga {saga_id}, to die at {point}")
        self._run_until_killed(
            saga_id=saga_id, context=context, point=point, lease_seconds=lease_seconds
        )
        self.recorder.note(f"worker A killed at {point} ({self.kill_how})")

    @abstractmethod
    def _resume_stale(self) -> dict[str, str]: ...

    def resume_stale(self) -> dict[str, str]:
        """A worker's pass of resume_sagas: saga id -> the status it brought it to."""
        self.recorder.note("worker B: resume_sagas claims the sagas whose lease lapsed")
        resumed = self._resume_stale()
        self.recorder.note(
            "worker B done: " + (", ".join(f"{k} {v}" for k, v in resumed.items()) or "nothing")
        )
        return resumed

    def close(self) -> None:  # noqa: B027 - most stacks own nothing to close
        pass


class EmbeddedStack(Stack):
    """Everything in this process: the memory bus, Django's locmem mail, in-process workers."""

    name = "embedded"
    kill_how = "an in-process stand-in for SIGKILL"

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        bus = get_bus("memory")
        if not isinstance(bus, MemoryBus):
            raise TypeError(f"expected the in-memory bus, got {type(bus).__name__}")
        self._bus = bus
        self._dead_seen: dict[str, int] = {}

    @property
    def bus(self) -> EventBus:
        return self._bus

    def _publish_raw(self, event_type: str, body: bytes) -> None:
        self._bus.publish_raw(event_type, body)

    def _relay(self) -> tuple[int, int]:
        result = outbox_relay(bus=self._bus)
        return result.sent, result.refused

    def consume(self, event_type: str, *, group: str, max_messages: int) -> Consumed:
        registry = load_registry([HANDLER_MODULE]).only([event_type])
        with captured_logs(CONSUMER_LOG) as records:
            settled = self._bus.consume(
                registry=registry, group=group, max_messages=max_messages, idle_timeout=2.0
            )
        skipped = [
            str(r.args[2])
            for r in records
            if isinstance(r.args, tuple) and len(r.args) > 2 and r.args[1] == "already handled"
        ]
        return self._note_consumed(Consumed(settled, skipped), event_type)

    def dead_letters(self, event_type: str, *, group: str) -> list[DeadLetterSeen]:
        letters = self._bus.dead_letters.get(group, [])
        new = letters[self._dead_seen.get(group, 0) :]
        self._dead_seen[group] = len(letters)
        seen = [DeadLetterSeen(d.reason, d.attempts, event_id_of(d.body)) for d in new]
        return self._note_dead(seen, event_type)

    def mail_subjects(self) -> list[str]:
        # locmem makes mail.outbox on its first message
        return [str(m.subject) for m in getattr(mail, "outbox", [])]

    def _run_until_killed(
        self, *, saga_id: str, context: dict[str, Any], point: str, lease_seconds: float
    ) -> None:
        try:
            with killed_at(point):
                saga_execute(
                    definition=ORDER_PROCESSING,
                    saga_id=saga_id,
                    context=context,
                    owner=worker_id(),
                    lease_seconds=lease_seconds,
                )
        except ProcessKilled:
            return
        raise AssertionError(f"the saga never reached {point}")

    def _resume_stale(self) -> dict[str, str]:
        return {r.saga_id: str(r.status) for r in saga_resume_stale(owner=worker_id())}


SUBJECT_RE = re.compile(r"^Subject: (.*(?:\n[ \t].*)*)", re.MULTILINE)
RESUMED_RE = re.compile(r"^(\S+) (completed|compensated|failed|needs_attention)$", re.MULTILINE)


class RealStack(Stack):
    """RabbitMQ and PostgreSQL; the relay, the consumer and the saga workers are `manage.py`
    processes (relay_outbox, consume_events, resume_sagas) with this process's settings."""

    name = "real"
    kill_how = "a real SIGKILL of the worker process"

    def __init__(
        self, recorder: Recorder, *, env: Mapping[str, str], mail_dir: Path, run_id: str
    ) -> None:
        super().__init__(recorder)
        self.env = dict(env)
        self.mail_dir = mail_dir
        self.run_id = run_id
        bus = get_bus("rabbitmq")
        if not isinstance(bus, RabbitMQBus):
            raise TypeError(f"expected the RabbitMQ bus, got {type(bus).__name__}")
        self._bus = bus
        self._dead_ids: set[str] = set()  # the dead letters shown already
        # The other services' queues: RabbitMQ returns an event no queue is bound for
        # (mandatory publishing) and the relay would keep the sagas' events pending.
        every_type = sorted({p.name.split(".v")[0] for p in EVENT_SCHEMAS.glob("*.v*.json")})
        self.declare(every_type, group=self.group("demo-other-services"))

    @property
    def bus(self) -> EventBus:
        return self._bus

    def _publish_raw(self, event_type: str, body: bytes) -> None:
        self._bus.publish_raw(event_type, body)

    def group(self, name: str) -> str:
        # A broker named in the environment may outlive this run: queues of our own.
        return f"{name}-{self.run_id}"

    def manage(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`manage.py <args>` in a process of its own, on this run's servers and settings; its
        spans name it by its command (OTEL_SERVICE_NAME)."""
        return subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            env={**self.env, "OTEL_SERVICE_NAME": args[0], **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _ok(self, proc: subprocess.CompletedProcess[str], what: str) -> str:
        if proc.returncode != 0:
            raise RuntimeError(f"{what} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

    def _relay(self) -> tuple[int, int]:
        out = self._ok(self.manage("relay_outbox", "--once"), "relay_outbox --once")
        found = re.search(r"sent (\d+), refused (\d+)", out)
        if found is None:
            raise RuntimeError(f"relay_outbox said {out!r}")
        return int(found.group(1)), int(found.group(2))

    def consume(self, event_type: str, *, group: str, max_messages: int) -> Consumed:
        proc = self.manage(
            "consume_events",
            event_type,
            "--group",
            group,
            "--handler-module",
            HANDLER_MODULE,
            "--max-messages",
            str(max_messages),
            "--idle-timeout",
            "5",
            env={"LOG_LEVEL": "DEBUG"},  # the inbox's "already handled" lines are DEBUG
        )
        out = self._ok(proc, "consume_events")
        found = re.search(r"settled (\d+)", out)
        skipped = re.findall(r"already handled event ([0-9a-f-]{36})", proc.stderr)
        return self._note_consumed(
            Consumed(int(found.group(1)) if found else 0, skipped), event_type
        )

    def dead_letters(self, event_type: str, *, group: str) -> list[DeadLetterSeen]:
        # Reading leaves them in the dead-letter queue: the new ones are those not seen yet.
        letters = self._bus.dead_letter_box(group).read()
        new = [d for d in letters if d.id not in self._dead_ids]
        self._dead_ids.update(d.id for d in new)
        seen = [DeadLetterSeen(d.reason, d.attempts, event_id_of(d.body)) for d in new]
        return self._note_dead(seen, event_type)

    def mail_subjects(self) -> list[str]:
        subjects: list[str] = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
            text = path.read_text(encoding="utf-8", errors="replace")
            subjects += [re.sub(r"\n[ \t]+", " ", s) for s in SUBJECT_RE.findall(text)]
        return subjects

    def _run_until_killed(
        self, *, saga_id: str, context: dict[str, Any], point: str, lease_seconds: float
    ) -> None:
        saga_create(definition=ORDER_PROCESSING, saga_id=saga_id, context=context)
        proc = self.manage(
            "resume_sagas",
            "--saga-id",
            saga_id,
            "--lease-seconds",
            str(lease_seconds),
            env={crash.CRASH_ENV: point},
        )
        if proc.returncode != -signal.SIGKILL:
            raise AssertionError(
                f"the worker was to die by SIGKILL at {point}, it exited {proc.returncode}:"
                f" {proc.stderr[-2000:]}"
            )

    def _resume_stale(self) -> dict[str, str]:
        out = self._ok(self.manage("resume_sagas", "--until-idle"), "resume_sagas --until-idle")
        return dict(RESUMED_RE.findall(out))

    def close(self) -> None:
        self._bus.close()
