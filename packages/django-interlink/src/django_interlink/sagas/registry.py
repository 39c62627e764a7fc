"""Saga definitions by saga_type, so a worker can resume a saga from its stored type.

The project names its definitions in INTERLINK['SAGA']['DEFINITIONS'] (dotted paths, as
INSTALLED_APPS names apps); `register()` adds one at run time (tests, scripts). The engine never
imports a concrete saga.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from ..conf import ms_settings
from .definition import SagaDefinition

_registered: dict[str, SagaDefinition] = {}


def register(definition: SagaDefinition) -> SagaDefinition:
    """Make `definition` resumable by its saga_type; returns it (usable as an expression)."""
    _registered[definition.saga_type] = definition
    return definition


def configured_definitions() -> list[SagaDefinition]:
    """The definitions named in SAGA['DEFINITIONS']; ImportError or TypeError if one is wrong."""
    found = []
    for path in ms_settings.SAGA["DEFINITIONS"]:
        definition = import_string(path)
        if not isinstance(definition, SagaDefinition):
            raise TypeError(f"{path} is a {type(definition).__name__}, not a SagaDefinition")
        found.append(definition)
    return found


def get_definition(saga_type: str) -> SagaDefinition:
    """The definition of `saga_type`: registered at run time, else from the settings."""
    if saga_type in _registered:
        return _registered[saga_type]
    for definition in configured_definitions():
        if definition.saga_type == saga_type:
            return definition
    raise LookupError(f"no saga definition registered for type {saga_type!r}")
