"""Which functions handle which event type: the registry a handler module exposes.

    registry = HandlerRegistry()

    @registry.handler("user.created")
    def on_user_created(envelope: Envelope) -> None: ...

Each handler has a stable name, its key in the inbox. `load_registry()` merges the registries of
the modules named in EVENT_BUS["HANDLER_MODULES"]. This module loads no models, so a handler
module (or a script run before `django.setup()`) can import it first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..conf import ms_settings
from .envelope import Envelope

Handler = Callable[[Envelope], None]


@dataclass(frozen=True, slots=True)
class RegisteredHandler:
    name: str
    event_type: str
    func: Handler
    # False for handlers that are idempotent by themselves or must not touch the database.
    use_inbox: bool = True


class HandlerRegistry:
    """Handlers by event type; each handler has a stable name (its inbox key)."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[RegisteredHandler]] = {}

    def add(
        self, event_type: str, func: Handler, *, name: str | None = None, use_inbox: bool = True
    ) -> RegisteredHandler:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        existing = self._by_type.setdefault(event_type, [])
        if any(h.name == handler_name for h in existing):
            raise ValueError(f"handler {handler_name!r} already registered for {event_type}")
        registered = RegisteredHandler(handler_name, event_type, func, use_inbox)
        existing.append(registered)
        return registered

    def handler(
        self, event_type: str, *, name: str | None = None, use_inbox: bool = True
    ) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""

        def decorate(func: Handler) -> Handler:
            self.add(event_type, func, name=name, use_inbox=use_inbox)
            return func

        return decorate

    def handlers_for(self, event_type: str) -> list[RegisteredHandler]:
        return list(self._by_type.get(event_type, ()))

    @property
    def event_types(self) -> list[str]:
        return sorted(t for t, handlers in self._by_type.items() if handlers)

    def merge(self, other: HandlerRegistry) -> HandlerRegistry:
        merged = HandlerRegistry()
        for registry in (self, other):
            for handlers in registry._by_type.values():
                for h in handlers:
                    merged.add(h.event_type, h.func, name=h.name, use_inbox=h.use_inbox)
        return merged

    def only(self, event_types: Sequence[str]) -> HandlerRegistry:
        """The handlers of some event types only (a consumer process for a subset)."""
        subset = HandlerRegistry()
        for event_type in event_types:
            for h in self.handlers_for(event_type):
                subset.add(h.event_type, h.func, name=h.name, use_inbox=h.use_inbox)
        return subset


def load_registry(modules: Sequence[str] | None = None) -> HandlerRegistry:
    """Merge the `registry` of each module (default: EVENT_BUS["HANDLER_MODULES"])."""
    names = list(modules) if modules else list(ms_settings.EVENT_BUS["HANDLER_MODULES"])
    merged = HandlerRegistry()
    for name in names:
        module = importlib.import_module(name)
        registry = getattr(module, "registry", None)
        if not isinstance(registry, HandlerRegistry):
            raise ImportError(f"{name} has no `registry = HandlerRegistry()`")
        merged = merged.merge(registry)
    return merged
