"""create_app(service): one FastAPI stub with auth, problem errors, idempotency and faults."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from mock_services.common.auth import AuthDep, AuthMiddleware
from mock_services.common.errors import install_error_handlers, logger
from mock_services.common.faults import DelayMiddleware, FaultMiddleware, FaultStore, control_router
from mock_services.common.idempotency import (
    IdempotencyMiddleware,
    IdempotencyStore,
    ReplayableRoute,
)
from mock_services.common.request_id import RequestIdHeader, RequestIdMiddleware
from mock_services.common.request_log import RequestLog, RequestLogMiddleware, request_log_router
from mock_services.common.settings import StubSettings
from mock_services.common.states import StateHandler, states_router
from mock_services.common.store import LockedStore

SERVICE_NAMES = ("users", "orders", "payments", "inventory")


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service package exports as `SERVICE`."""

    name: str
    title: str
    router: APIRouter
    store_factory: Callable[[], LockedStore]
    # Provider states the consumer pacts may ask for (POST /__control/states).
    states: Mapping[str, StateHandler] = field(default_factory=dict)


@dataclass
class StubRuntime:
    """Per-app state: the token, the service's data, idempotency records and faults."""

    service: str
    token: str
    store: LockedStore
    idempotency: IdempotencyStore
    faults: FaultStore
    # What arrived and when (GET /__control/requests).
    requests: RequestLog
    # The service's own routes (no control plane), matched by the fault middleware.
    routes: tuple[APIRoute, ...]
    states: Mapping[str, StateHandler]

    def reset(self) -> None:
        self.store.reset()
        self.idempotency.clear()
        self.faults.clear()
        self.requests.clear()


def load_service(service: str) -> ServiceDefinition:
    if service not in SERVICE_NAMES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"mock_services.{service}")
    definition: ServiceDefinition = module.SERVICE
    # A replay is validated by its route's endpoint wrapper: without it, the operation would run.
    plain = [
        route.path
        for route in definition.router.routes
        if isinstance(route, APIRoute) and not isinstance(route, ReplayableRoute)
    ]
    if plain:
        raise ValueError(
            f"the {service} router must use route_class=ReplayableRoute; plain: {', '.join(plain)}"
        )
    return definition


def create_app(service: str, *, token: str | None = None) -> FastAPI:
    """A fresh app with its own state; the token defaults to MOCK_SERVICES_TOKEN."""
    definition = load_service(service)
    if token is None:
        token = StubSettings().token.get_secret_value()
    if not token:
        raise ValueError("the stub token must not be empty")
    runtime = StubRuntime(
        service=definition.name,
        token=token,
        store=definition.store_factory(),
        idempotency=IdempotencyStore(),
        faults=FaultStore(),
        requests=RequestLog(),
        routes=tuple(route for route in definition.router.routes if isinstance(route, APIRoute)),
        states=definition.states,
    )

    # The state lives as long as the app, not as long as one server run: a stub stopped and
    # served again keeps its data, as a service restarted over its database does
    # (StubServer.stopped). POST /__control/reset is the way to forget.
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("%s stub ready", definition.name)
        yield

    app = FastAPI(
        title=definition.title,
        version="1.0.0",
        lifespan=lifespan,
        # The hand-written contract is the documentation; nothing is served without auth.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[AuthDep, RequestIdHeader],
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(definition.router)
    app.include_router(control_router)
    app.include_router(states_router)
    app.include_router(request_log_router)
    # add_middleware prepends: the last added runs first.
    app.add_middleware(DelayMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(FaultMiddleware)
    app.add_middleware(AuthMiddleware)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
