"""Which functions handle which event type: the registry a handler module exposes.

    registry = HandlerRegistry()

    @registry.handler("user.created")
    def on_user_created(envelope: Envelope) -> None: ...

    def stock_levels(envelope: Envelope) -> dict[str, int]: ...  # reads other services

    @registry.handler("order.created", prepare=stock_levels)
    def on_order_created(envelope: Envelope, stock: dict[str, int]) -> None: ...  # writes

A handler runs inside the inbox transaction (inbox.py); its `prepare` step runs before it, so
a slow service holds no row lock. Each handler has a stable name, its key in the inbox.
`load_registry()` merges the registries of the modules named in EVENT_BUS["HANDLER_MODULES"].
This module loads no models, so a handler module (or a script run before `django.setup()`) can
import it first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ..conf import ms_settings
from .envelope import Envelope

T = TypeVar("T")
Handler = Callable[[Envelope], None]


@dataclass(frozen=True, slots=True)
class RegisteredHandler:
    name: str
    event_type: str
    # (envelope), or (envelope, what `prepare` returned)
    func: Callable[..., None]
    # False for handlers that are idempotent by themselves or must not touch the database.
    use_inbox: bool = True
    # Remote reads, idempotent by nature, run outside the inbox transaction.
    prepare: Callable[[Envelope], Any] | None = None

    def apply(self, envelope: Envelope, prepared: Any = None) -> None:
        """The handler's own part, given what `prepare` returned (if it has one)."""
        if self.prepare is None:
            self.func(envelope)
        else:
            self.func(envelope, prepared)


class HandlerRegistry:
    """Handlers by event type; each handler has a stable name (its inbox key)."""

    def __init__(self) -> None:
        self._by_type: dict[str, list[RegisteredHandler]] = {}

    def add(
        self,
        event_type: str,
        func: Callable[..., None],
        *,
        name: str | None = None,
        use_inbox: bool = True,
        prepare: Callable[[Envelope], Any] | None = None,
    ) -> RegisteredHandler:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        registered = RegisteredHandler(handler_name, event_type, func, use_inbox, prepare)
        self._register(registered)
        return registered

    def _register(self, handler: RegisteredHandler) -> None:
        if handler.prepare is not None and not handler.use_inbox:
            raise ValueError(
                f"handler {handler.name!r}: `prepare` keeps reads out of the inbox transaction; "
                "a handler without the inbox can read first itself"
            )
        existing = self._by_type.setdefault(handler.event_type, [])
        if any(h.name == handler.name for h in existing):
            raise ValueError(
                f"handler {handler.name!r} already registered for {handler.event_type}"
            )
        existing.append(handler)

    @overload
    def handler(
        self, event_type: str, *, name: str | None = None, use_inbox: bool = True
    ) -> Callable[[Handler], Handler]: ...

    @overload
    def handler(
        self, event_type: str, *, name: str | None = None, prepare: Callable[[Envelope], T]
    ) -> Callable[[Callable[[Envelope, T], None]], Callable[[Envelope, T], None]]: ...

    def handler(
        self,
        event_type: str,
        *,
        name: str | None = None,
        use_inbox: bool = True,
        prepare: Callable[[Envelope], Any] | None = None,
    ) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Decorator form of `add`."""

        def decorate(func: Callable[..., None]) -> Callable[..., None]:
            self.add(event_type, func, name=name, use_inbox=use_inbox, prepare=prepare)
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
                    merged._register(h)
        return merged

    def only(self, event_types: Sequence[str]) -> HandlerRegistry:
        """The handlers of some event types only (a consumer process for a subset)."""
        subset = HandlerRegistry()
        for event_type in event_types:
            for h in self.handlers_for(event_type):
                subset._register(h)
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
