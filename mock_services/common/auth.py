"""Bearer-token auth: a dependency on every route, and the same check before routing."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_services.common.asgi import header
from mock_services.common.errors import ProblemError, problem_response

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearerAuth")


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer <token>` header value."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def scope_is_authorized(scope: Scope, expected: str) -> bool:
    """Same check as the dependency, for middlewares that act before routing."""
    return token_matches(bearer_token(header(scope, "authorization")), expected)


def unauthorized(presented: bool) -> ProblemError:
    """The 401 problem, with the RFC 6750 challenge."""
    if presented:
        detail, challenge = "The bearer token is not valid.", 'Bearer error="invalid_token"'
    else:
        detail, challenge = "A bearer token is required.", "Bearer"
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """Reject the request unless it carries the stub's bearer token."""
    expected: str = request.app.state.runtime.token
    presented = credentials.credentials if credentials is not None else None
    if not token_matches(presented, expected):
        raise unauthorized(presented=request.headers.get("authorization") is not None)


AuthDep = Depends(require_token)


class AuthMiddleware:
    """Checks the token before routing, so no path, method or fault answers an anonymous caller."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        expected: str = scope["app"].state.runtime.token
        if scope_is_authorized(scope, expected):
            await self.app(scope, receive, send)
            return
        error = unauthorized(presented=header(scope, "authorization") is not None)
        response = problem_response(
            error.status, error.slug, error.detail, instance=scope["path"], headers=error.headers
        )
        await response(scope, receive, send)
