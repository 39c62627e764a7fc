"""The admin's dead-letter page: one group's dead letters, with replay and discard.

    /admin/interlink/inboxevent/dead-letters/?group=billing&type=order.created

Served by the inbox's ModelAdmin (admin.py), so only staff users reach it (`admin_view`), and
the actions are POSTs with Django's CSRF check. Thin: it calls dead_letter_service.py, as
`manage.py dead_letters` does; discard asks for a confirmation box, as the command asks for --yes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from ..exceptions import EventError
from .dead_letter_service import (
    dead_letter_box,
    dead_letters_discard,
    dead_letters_list,
    dead_letters_replay,
)

TEMPLATE = "django_interlink/events/dead_letters.html"


def dead_letters_view(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """GET: the list; POST action=replay|discard with the ticked ids (discard: confirm=yes)."""
    group = request.GET.get("group") or None
    event_type = request.GET.get("type") or None
    try:
        with dead_letter_box(group=group) as box:
            if request.method == "POST":
                _act(request, box)
                return HttpResponseRedirect(request.get_full_path())
            letters = dead_letters_list(box=box, event_type=event_type)
            group = box.group
    except (EventError, NotImplementedError) as exc:
        messages.error(request, f"dead letters unavailable: {exc}")
        letters = []
    return TemplateResponse(
        request,
        TEMPLATE,
        {
            **context,
            "title": f"Dead letters of {group or 'the consumer group'}",
            "letters": [letter.summary() for letter in letters],
            "group": group or "",
            "event_type": event_type or "",
        },
    )


def _act(request: HttpRequest, box: Any) -> None:
    ids = request.POST.getlist("ids")
    action = request.POST.get("action")
    if not ids:
        messages.warning(request, "tick the dead letters to act on first")
        return
    if action == "replay":
        done = dead_letters_replay(box=box, ids=ids)
        messages.success(request, f"replayed {len(done)} to group {box.group}")
    elif action == "discard":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "discard removes dead letters for good: tick 'yes, discard'")
            return
        done = dead_letters_discard(box=box, ids=ids)
        messages.success(request, f"discarded {len(done)}")
    else:
        messages.error(request, f"unknown action {action!r}")
