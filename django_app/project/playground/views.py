"""The playground's page and the JSON it polls; every view needs a logged-in staff user.

The page places orders through the orders API itself (POST /api/orders, a customer's bearer
token from `token`), which stores a saga for the worker: nothing here runs a saga step. Writes
(a token, faults, arming the worker's kill) are POST/DELETE with Django's CSRF check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import requests
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django_interlink.api.tokens import api_token_issue
from django_interlink.conf import ms_settings
from django_interlink.models import SagaExecution
from mock_services.inventory.store import SEED_PRODUCTS
from shop.api.representation import API_STATUSES
from shop.clients.inventory import InventoryServiceClient, Product
from shop.models import Customer

from . import feeds, layers, presets, stubs, traces
from .files import CUSTOMERS, KILL_AFTER_CHARGE, playground_dir, read_json

FAULT_KINDS = {
    "latency": "latency (delay, then answer)",
    "error": "error (503 by default)",
    "rate_limit": "429 with Retry-After",
    "drop": "dropped connection (nothing done)",
    "lost_response": "lost response (done, then the connection closes)",
    "malformed": "malformed body",
}
# The payments stub's test cards (contracts/payments.yaml), not secrets.
CARDS = {
    "tok_visa": "good card",
    "tok_declined": "declined",
    "tok_insufficient_funds": "insufficient funds",
}

View = Callable[..., HttpResponse]


def _problem(status: int, title: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"title": title, "status": status, **extra}, status=status)


def staff_json(view: View) -> View:
    """401 for an anonymous caller, 403 for a non-staff one, as JSON (no login redirect)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _problem(401, "log in first")
        if not request.user.is_staff:
            return _problem(403, "the playground is for staff users")
        return view(request, *args, **kwargs)

    return wrapped


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _catalogue() -> list[Product]:
    """The seeded products as the inventory stub holds them now: name, stock and price (the
    price the saga will charge is the one the reservation records; the page only shows it)."""
    with InventoryServiceClient() as inventory:
        return [inventory.get_stock(product_id=seed[0]) for seed in SEED_PRODUCTS]


@login_required
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return HttpResponse("The playground is for staff users.", status=403)
    context = {
        "customers": read_json(playground_dir() / CUSTOMERS, []),
        "products": _catalogue(),
        "cards": CARDS,
        "fault_kinds": FAULT_KINDS,
        "figures": presets.figures(),
        "status_map": list(API_STATUSES.items()),
        "max_deliveries": ms_settings.EVENT_BUS["MAX_DELIVERIES"],
        "config": {
            "operations": stubs.operations(),
            "presets": presets.page_presets(),
            "urls": {
                "orders": reverse("shop_api:orders"),
                "token": reverse("playground:token", args=["USER"]),
                "status": reverse("playground:status"),
                "faults": reverse("playground:faults"),
                "kill": reverse("playground:kill"),
                "saga": reverse("playground:saga", args=["SAGA"]),
                "events": reverse("playground:events", args=["SAGA"]),
                "calls": reverse("playground:calls", args=["SAGA"]),
                "trace": reverse("playground:trace", args=["SAGA"]),
                "verdict": reverse("playground:verdict", args=["SAGA", "PRESET"]),
                "dead_letters": reverse("admin:interlink_dead_letters"),
            },
        },
    }
    return render(request, "playground/page.html", context)


@staff_json
@require_POST
def token(request: HttpRequest, username: str) -> HttpResponse:
    """A fresh orders-API bearer token of one of the playground's customers, for the page's
    script to call POST /api/orders with (kept in the page's memory, never stored by it)."""
    customer = Customer.objects.select_related("account").filter(account__username=username)
    found = customer.first()
    if found is None:
        return _problem(404, f"no customer {username}")
    issued = api_token_issue(user=found.account, name="playground page")
    return JsonResponse({"token": issued, "user_id": str(found.user_id)})


@staff_json
@require_GET
def saga(request: HttpRequest, saga_id: str) -> HttpResponse:
    execution = SagaExecution.objects.filter(saga_id=saga_id).first()
    if execution is None:
        return _problem(404, f"no saga {saga_id}")
    return JsonResponse(feeds.saga_feed(execution, feeds.worker_feed(playground_dir())))


@staff_json
@require_GET
def events(request: HttpRequest, saga_id: str) -> HttpResponse:
    return JsonResponse({"events": feeds.events_feed(saga_id)})


@staff_json
@require_GET
def calls(request: HttpRequest, saga_id: str) -> HttpResponse:
    """The stubs' request log for this saga (each call with the step attempt that made it),
    the payments stub's charges for it, and its two retry layers."""
    try:
        received = stubs.saga_calls(saga_id)
    except requests.RequestException as exc:
        return _problem(502, f"a stub did not answer: {type(exc).__name__}")
    execution = SagaExecution.objects.filter(saga_id=saga_id).first()
    drawn = []
    if execution is not None:
        logs = list(execution.step_logs.order_by("started_at", "id"))
        drawn = layers.retry_layers(execution, logs, received)
    return JsonResponse(
        {"calls": received, "charges": stubs.saga_charges(saga_id), "layers": drawn}
    )


@staff_json
@require_GET
def trace(request: HttpRequest, saga_id: str) -> HttpResponse:
    """The saga's trace from the processes' span files: its spans as bars, and the waterfall."""
    execution = SagaExecution.objects.filter(saga_id=saga_id).first()
    if execution is None:
        return _problem(404, f"no saga {saga_id}")
    return JsonResponse(traces.trace_feed(execution, playground_dir()))


@staff_json
@require_GET
def verdict(request: HttpRequest, saga_id: str, slug: str) -> HttpResponse:
    """Whether what a "Try this" preset said would happen to this saga happened."""
    preset = presets.BY_SLUG.get(slug)
    if preset is None:
        return _problem(404, f"no preset {slug}", presets=sorted(presets.BY_SLUG))
    execution = SagaExecution.objects.filter(saga_id=saga_id).first()
    if execution is None:
        return _problem(404, f"no saga {saga_id}")
    try:
        received = stubs.saga_calls(saga_id)
    except requests.RequestException as exc:
        return _problem(502, f"a stub did not answer: {type(exc).__name__}")
    charges = stubs.saga_charges(saga_id)
    return JsonResponse(presets.verdict(preset, execution, received, charges))


@staff_json
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    return JsonResponse(
        {
            "worker": feeds.worker_feed(playground_dir()),
            "sagas": feeds.recent_sagas(),
            "dead_letters": feeds.dead_letters_feed(),
        }
    )


@staff_json
@require_http_methods(["GET", "POST", "DELETE"])
def faults(request: HttpRequest) -> HttpResponse:
    """GET: every stub's faults; POST {service, method, path, kind, ...}: add one (checked as
    the stubs' FaultSpec); DELETE: clear them all."""
    try:
        if request.method == "POST":
            body = _json_body(request)
            if body is None:
                return _problem(400, "a JSON object is expected")
            service = body.pop("service", None)
            fault_id = stubs.fault_add(service=str(service), spec=body)
            return JsonResponse({"id": fault_id, "service": service}, status=201)
        if request.method == "DELETE":
            stubs.faults_clear()
        return JsonResponse({"faults": stubs.faults_list()})
    except stubs.BadFault as exc:
        return _problem(400, "invalid fault", errors=exc.errors)
    except requests.RequestException as exc:
        return _problem(502, f"a stub did not answer: {type(exc).__name__}")


@staff_json
@require_http_methods(["POST", "DELETE"])
def kill(request: HttpRequest) -> HttpResponse:
    """POST: the next worker to finish a charge dies there; DELETE: not any more."""
    flag = playground_dir() / KILL_AFTER_CHARGE
    if request.method == "POST":
        flag.touch()
    else:
        flag.unlink(missing_ok=True)
    return JsonResponse({"kill_armed": flag.exists()})
