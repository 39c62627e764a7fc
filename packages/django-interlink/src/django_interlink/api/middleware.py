"""Contract validation of the API, as middleware: INTERLINK['API'] names the contract and
the path prefix it governs (default /api/); nothing else is touched.

A request the contract refuses is answered with its problem and never reaches the view, and so
is a body too large (413), not UTF-8, nested too deep or holding NaN (400: body.py), checked
before any parser reads it. The middleware's own failures are answered as 500 problems too. A
response the contract does not allow is a bug of ours: it is logged and replaced by a 500
problem (`VALIDATE_RESPONSES`, on by default), so a client never relies on an undocumented
shape. An exception a view lets escape becomes a 500 problem too. Place it after
RequestIDMiddleware; sync only, like the views it wraps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from ..conf import ms_settings
from ..request_id import HEADER as REQUEST_ID_HEADER
from .body import body_problem
from .contract import configured_contract
from .problems import InternalError, problem_response

__all__ = ["ContractValidationMiddleware"]

logger = logging.getLogger(__name__)


class ContractValidationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        settings = ms_settings.API
        contract = configured_contract()
        if contract is None or not request.path.startswith(settings["PATH_PREFIX"]):
            return self.get_response(request)
        try:
            refusal = body_problem(request) or contract.check_request(request)
        except Exception:  # our own checker failed: still a problem, never Django's HTML page
            logger.exception("%s %s: checking the request failed", request.method, request.path)
            refusal = InternalError("The application could not check this request.")
        if refusal is not None:
            response: HttpResponseBase = problem_response(refusal, instance=request.path)
        else:
            response = self.get_response(request)
        request_id = getattr(request, "request_id", None)
        if request_id is not None and REQUEST_ID_HEADER not in response:
            # RequestIDMiddleware (outside this one) sets the same value on the way out; the
            # contract requires the header, so it is checked with it.
            response[REQUEST_ID_HEADER] = request_id
        if settings["VALIDATE_RESPONSES"]:
            try:
                violation = contract.check_response(request, response)
            except Exception as exc:  # the checker's own failure: the response is not known good
                logger.exception(
                    "%s %s: checking the response failed", request.method, request.path
                )
                violation = f"the check failed: {exc!r}"
            if violation is not None:
                logger.error(
                    "%s %s: the response (%s) breaks %s: %s",
                    request.method,
                    request.path,
                    response.status_code,
                    contract.path.name,
                    violation,
                )
                response = problem_response(
                    InternalError("The application produced a response its contract forbids."),
                    instance=request.path,
                )
                if request_id is not None:
                    response[REQUEST_ID_HEADER] = request_id
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if configured_contract() is None or not request.path.startswith(
            ms_settings.API["PATH_PREFIX"]
        ):
            return None
        logger.exception("%s %s failed", request.method, request.path, exc_info=exception)
        return problem_response(InternalError(), instance=request.path)
