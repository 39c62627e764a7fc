"""`api_endpoint`: what every API view shares, so the views hold only their own logic.

CSRF is off (the credentials are a bearer token, never a cookie a browser sends by itself); the
method is checked (405 with Allow); the bearer token is authenticated (401) and its account set
as `request.api_user`; the methods named rate-limited count against the token's limit (429);
an `ApiProblem` raised by the view becomes its problem+json answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .problems import ApiProblem, MalformedBody, MethodNotAllowed, problem_response
from .ratelimit import rate_limit_hit
from .tokens import authenticate_token

__all__ = ["api_endpoint", "json_body", "json_response"]

View = Callable[..., HttpResponseBase]


def api_endpoint(
    *, methods: Sequence[str], rate_limited: Sequence[str] = ()
) -> Callable[[View], View]:
    """`rate_limited`: the methods counted against each token's RATE_LIMIT (ratelimit.py)."""
    allowed = [m.upper() for m in methods]
    limited = {m.upper() for m in rate_limited}

    def decorate(view: View) -> View:
        operation = f"{view.__module__}.{view.__qualname__}"

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in allowed:
                    raise MethodNotAllowed(request.method or "?", allowed)
                token = authenticate_token(request)
                request.api_user = token.user  # type: ignore[attr-defined]
                if request.method in limited:
                    rate_limit_hit(key=f"{token.pk}:{request.method} {operation}")
                return view(request, *args, **kwargs)
            except ApiProblem as problem:
                return problem_response(problem, instance=request.path)

        return csrf_exempt(wrapper)

    return decorate


def json_body(request: HttpRequest) -> Any:
    """The request body as JSON (the contract middleware has checked its media type)."""
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody from exc


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response
