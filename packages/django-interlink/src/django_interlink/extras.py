"""The optional extras: which library each backend needs, and the error naming what to install.

A backend's library is imported only where settings choose that backend, so a project installs
only the extras it uses; the system checks (E100-E104) and `require()` name the missing one.
"""

from __future__ import annotations

import importlib.util
import sys

from .exceptions import MissingExtra

DISTRIBUTION = "django-interlink"

#: extra -> the module its libraries provide (what is imported when that backend is chosen)
EXTRAS: dict[str, str] = {
    "rabbitmq": "pika",
    "redis": "redis",
    "consul": "consul",
    "postgres": "psycopg",
    "otel": "opentelemetry.sdk",
}


def found(module: str) -> bool:
    """Whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a missing parent package, or a parent blocked in sys.modules
        return False


def installed(extra: str) -> bool:
    """Whether the library of `extra` is installed."""
    return found(EXTRAS[extra])


def install_command(extra: str) -> str:
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def missing_message(extra: str, feature: str) -> str:
    """What a check and the runtime error both say when `feature` lacks its library."""
    return (
        f"{feature} needs the {EXTRAS[extra]!r} module, which is not installed: "
        f"{install_command(extra)}"
    )


def require(extra: str, feature: str) -> None:
    """Raise MissingExtra, naming the extra to install, when the library of `extra` is missing."""
    if not installed(extra):
        raise MissingExtra(missing_message(extra, feature))


def loaded_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The exception classes `module:Class` of the libraries this process has imported.

    For `except` clauses that must catch a broker library's errors without importing it: a
    library that was never imported raised nothing.
    """
    found: list[type[BaseException]] = []
    for name in names:
        module_name, _, attribute = name.partition(":")
        module = sys.modules.get(module_name)
        if module is not None:
            found.append(getattr(module, attribute))
    return tuple(found)
