"""The django-interlink distribution, as a user gets it: built, installed, used in a new project.

`python -m build` makes the sdist and the wheel of packages/django-interlink; the wheel goes into
a fresh virtualenv with no extra (so every backend library must be imported lazily), together
with INTERLINK_TEST_DJANGO when set (the CI matrix pins each Django release with it, e.g.
"Django>=6.0,<6.1"). `django-admin startproject` makes a project, and the files of
docs/use-it/ (the settings, a `greetings` app with a saga and a handler, its event contract:
what docs/use-it.md shows) are added to it. Then, through manage.py in that venv: check
--deploy, migrate, a saga to completion and one to compensation (resume_sagas), an event
through the outbox to the project's handler (relay_outbox --once), and `check` naming the
extra a RabbitMQ bus needs.

Needs only the standard library, pytest and build (the CI's package job installs no more).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "django-interlink"
EXAMPLE = ROOT / "docs" / "use-it"
DJANGO_REQUIREMENT = os.environ.get("INTERLINK_TEST_DJANGO", "")
# What the wheel must not bring: each is an extra's.
EXTRA_LIBRARIES = ("pika", "redis", "py-consul", "psycopg", "opentelemetry-sdk")
SECRET = "x7!q-fresh-project-secret-key-long-and-random-enough-for-check-deploy"


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class Project:
    python: Path
    path: Path

    def manage(
        self, *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            timeout=300,
            env=_clean_env(DJANGO_SECRET_KEY=SECRET, **env),
            check=False,
        )
        if check:
            assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
        return result

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code).stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """Our environment without what points at the repository's code or its test settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
        and not key.startswith("OTEL_")
    }
    return {**env, **extra}


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist and the wheel, built from a copy (setuptools leaves build/ in the source)."""
    source = tmp_path_factory.mktemp("source") / "django-interlink"
    shutil.copytree(
        PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, source)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Built(sdist, wheel)


@pytest.fixture(scope="module")
def project(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A fresh venv with the wheel (no extra), and a startproject project using the app."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    requirements = [str(built.wheel), *([DJANGO_REQUIREMENT] if DJANGO_REQUIREMENT else [])]
    _run(python, "-m", "pip", "install", "--quiet", "--no-input", *requirements)
    path = tmp_path_factory.mktemp("mysite")
    _run(venv / "bin" / "django-admin", "startproject", "mysite", ".", cwd=path)
    settings = path / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + (EXAMPLE / "settings.py").read_text())
    shutil.copytree(EXAMPLE / "greetings", path / "greetings")
    shutil.copytree(EXAMPLE / "contracts", path / "contracts")
    fresh = Project(python, path)
    fresh.manage("migrate", "--no-input")
    yield fresh


def test_the_sdist_holds_the_package_readme_and_changelog_and_nothing_else(built: Built) -> None:
    """README, CHANGELOG, templates, migrations and py.typed; no tests, no project code."""
    with tarfile.open(built.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "CHANGELOG.md", "pyproject.toml"} <= names
    package = "src/django_interlink/"
    assert f"{package}py.typed" in names
    assert f"{package}migrations/0001_initial.py" in names
    assert f"{package}templates/django_interlink/sagas/change_form.html" in names
    tops = {name.split("/")[0] for name in names}
    assert tops - {"README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO", "setup.cfg"} == {
        "src",
        "MANIFEST.in",
    }
    assert {name.split("/")[1] for name in names if name.startswith("src/")} == {
        "django_interlink",
        "django_interlink.egg-info",
    }
    assert [name for name in names if "/tests/" in name or "/test_" in name] == []


def test_the_wheel_holds_the_templates_the_migrations_and_py_typed(built: Built) -> None:
    """What Django loads from the installed app besides its modules."""
    with zipfile.ZipFile(built.wheel) as archive:
        names = set(archive.namelist())
    templates = {n for n in names if n.startswith("django_interlink/templates/")}
    migrations = {n for n in names if n.startswith("django_interlink/migrations/0")}
    assert len(templates) == len(list((PACKAGE / "src/django_interlink/templates").rglob("*.html")))
    assert len(migrations) == len(list((PACKAGE / "src/django_interlink/migrations").glob("0*.py")))
    assert "django_interlink/py.typed" in names
    assert {n.split("/")[0] for n in names if not n.startswith("django_interlink-")} == {
        "django_interlink"
    }


def test_the_wheel_brings_no_backend_library(project: Project) -> None:
    """Installed without extras: no broker, registry, PostgreSQL driver or OpenTelemetry SDK."""
    installed = _run(project.python, "-m", "pip", "list", "--format=freeze").lower()
    names = {line.split("==")[0] for line in installed.splitlines()}
    assert sorted(names & set(EXTRA_LIBRARIES)) == []
    if DJANGO_REQUIREMENT:
        django = _run(project.python, "-c", "import django; print(django.__version__)").strip()
        assert (
            django.split(".")[:2] == DJANGO_REQUIREMENT.split(">=")[1].split(",")[0].split(".")[:2]
        )


def test_check_deploy_passes_in_the_fresh_project(project: Project) -> None:
    """The app's checks, Django's deploy checks: not one message, with DEBUG off."""
    result = project.manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_a_saga_completes_and_a_refused_one_is_compensated(project: Project) -> None:
    """Two greetings stored, run by resume_sagas: one completed, one compensated (undone)."""
    ids = project.shell(
        "from greetings.services import greeting_start\n"
        "print(greeting_start(name='Alice'), greeting_start(name='Mallory'))"
    ).split()
    project.manage("resume_sagas", "--until-idle")
    statuses = project.shell(
        "from django_interlink.models import SagaExecution\n"
        f"for saga_id in {ids!r}:\n"
        "    saga = SagaExecution.objects.get(saga_id=saga_id)\n"
        "    print(saga.context_data['name'], saga.status)"
    )
    assert statuses.splitlines() == ["Alice completed", "Mallory compensated"]


def test_an_event_goes_through_the_outbox_to_the_projects_handler(project: Project) -> None:
    """outbox_enqueue, relay_outbox --once and consume_events: the handler's inbox row.

    The memory bus keeps events in one process, so the relay and the consumer run in one
    manage.py process (docs/use-it/relay_and_consume.py); a broker lets them run apart."""
    event_id = project.shell(
        "from greetings.services import greeting_announce\n"
        "print(greeting_announce(name='Bob').event_id)"
    ).strip()
    project.shell((EXAMPLE / "relay_and_consume.py").read_text())
    handled = project.shell(
        "from django_interlink.models import InboxEvent, OutboxEvent\n"
        f"print(OutboxEvent.objects.get(event_id={event_id!r}).status)\n"
        f"for row in InboxEvent.objects.filter(event_id={event_id!r}):\n"
        "    print(row.event_type, row.handler)"
    )
    assert handled.splitlines() == ["sent", "greeting.sent greetings.handlers.on_greeting_sent"]


def test_a_rabbitmq_bus_without_its_extra_fails_the_check_naming_it(project: Project) -> None:
    """The bus chosen by settings needs pika: `check` fails and says what to pip install."""
    result = project.manage(
        "check", check=False, EVENT_BUS_BACKEND="rabbitmq", RABBITMQ_URL="amqp://u:p@mq:5672/%2F"
    )
    assert result.returncode == 1
    assert "interlink.E100" in result.stderr
    assert 'pip install "django-interlink[rabbitmq]"' in result.stderr
