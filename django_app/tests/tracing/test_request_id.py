"""The request id stays, and is on the span of the request it names."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from django_interlink.middleware import RequestIDMiddleware
from django_interlink.tracing import REQUEST_ID_ATTRIBUTE, tracer


def test_the_request_id_is_recorded_on_the_server_span(spans):
    """RequestIDMiddleware puts the (incoming) X-Request-ID on the span current for the
    request: the server span of the Django instrumentation."""
    middleware = RequestIDMiddleware(lambda request: HttpResponse("ok"))
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-42")
    with tracer().start_as_current_span("GET /"):
        response = middleware(request)
    assert response["X-Request-ID"] == "req-42"
    assert spans.one("GET /").attributes[REQUEST_ID_ATTRIBUTE] == "req-42"
