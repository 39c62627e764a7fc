"""HTTP views of the reusable app: the health endpoint."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .health import health_report


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when every component is up (or does not apply), 503 with per-component details."""
    report = health_report()
    return JsonResponse(report.to_dict(), status=200 if report.healthy else 503)
