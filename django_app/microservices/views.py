"""HTTP views of the reusable app: liveness and readiness.

/health/live/ needs no credentials and touches nothing: a process supervisor asks whether the
process answers at all, and the answer says nothing more. /health/ready/ says whether the
dependencies are up (200/503) without credentials too, because the registry's HTTP check calls
it anonymously; which component failed, with versions and errors, is shown only to staff users
or to a caller with MICROSERVICES['HEALTH']['TOKEN'].
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .conf import ms_settings
from .health import cached_health_report


def _may_read_details(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = str(ms_settings.HEALTH["TOKEN"])
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


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
