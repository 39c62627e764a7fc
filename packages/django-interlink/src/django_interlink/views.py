"""HTTP views of the reusable app: liveness, readiness and metrics.

/health/live/ needs no credentials and touches nothing: a process supervisor asks whether the
process answers at all, and the answer says nothing more. /health/ready/ says whether the
dependencies are up (200/503) without credentials too, because the registry's HTTP check calls
it anonymously; which component failed, with versions and errors, is shown only to staff users
or to a caller with INTERLINK['HEALTH']['TOKEN']. /metrics follows the same rule, and
refuses everyone else: 401 with `WWW-Authenticate: Bearer` to a request without valid credentials
(none, or a wrong token: authenticating may help), 403 to a signed-in account that is not staff
(it is known, and not allowed).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .conf import ms_settings
from .health import cached_health_report
from .metrics.exposition import REALM, bearer_matches, render


def _may_read_details(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    return bearer_matches(
        request.headers.get("Authorization", ""), str(ms_settings.HEALTH["TOKEN"])
    )


@never_cache
@require_safe
def liveness(request: HttpRequest) -> JsonResponse:
    """200 while the process serves requests; no dependency is checked, nothing is disclosed."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readiness(request: HttpRequest) -> JsonResponse:
    """200 when no dependency is down, else 503; per-component details for staff or the token."""
    report = cached_health_report()
    body = (
        report.to_dict() if _may_read_details(request) else {"status": report.to_dict()["status"]}
    )
    return JsonResponse(body, status=200 if report.healthy else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """This process's counters and the database's and broker's state, for Prometheus (text or
    OpenMetrics, per Accept); for staff or the token, as /health/ready/'s details."""
    if not _may_read_details(request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return HttpResponse("staff only\n", status=403, content_type="text/plain")
        response = HttpResponse(
            "metrics need a staff account or the HEALTH token (Authorization: Bearer ...)\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = REALM
        return response
    body, content_type = render(request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)
