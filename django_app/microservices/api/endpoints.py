"""`api_endpoint`: what every API view shares, so the views hold only their own logic.

CSRF is off (the credentials are a bearer token, never a cookie a browser sends by itself); the
method is checked (405 with Allow); the bearer token is authenticated (401) and its account set
as `request.api_user`; an `ApiProblem` raised by the view becomes its problem+json answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from .problems import ApiProblem, MalformedBody, MethodNotAllowed, problem_response
from .tokens import authenticate_bearer

__all__ = ["api_endpoint", "json_body", "json_response"]

View = Callable[..., HttpResponseBase]


def api_endpoint(*, methods: Sequence[str]) -> Callable[[View], View]:
    allowed = [m.upper() for m in methods]

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                if request.method not in allowed:
                    raise MethodNotAllowed(request.method or "?", allowed)
                request.api_user = authenticate_bearer(request)  # type: ignore[attr-defined]
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
