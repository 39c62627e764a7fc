"""Admin for the event tables: the outbox (with a "publish again" action) and the inbox, which
also serves the consumer group's dead letters (dead_letter_admin.py).
Read-mostly: rows change through the services, not by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from ..models.events import InboxEvent, OutboxEvent, OutboxStatus
from .dead_letter_admin import dead_letters_view

if TYPE_CHECKING:
    _OutboxAdmin = admin.ModelAdmin[OutboxEvent]
    _InboxAdmin = admin.ModelAdmin[InboxEvent]
else:  # the admin classes are not subscriptable at runtime
    _OutboxAdmin = _InboxAdmin = admin.ModelAdmin


@admin.register(OutboxEvent)
class OutboxEventAdmin(_OutboxAdmin):
    list_display = ("id", "event_type", "event_id", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "correlation_id")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ["publish_again"]

    @admin.action(description="Publish again (back to pending, due now, attempts reset)")
    def publish_again(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        # The attempts start over: a row kept at its old count would go back to FAILED at the
        # first refusal, before the fix it was sent again for had a chance. last_error stays
        # until it is sent, as the reason it was stuck.
        count = queryset.exclude(status=OutboxStatus.SENT).update(
            status=OutboxStatus.PENDING, next_attempt_at=None, attempts=0
        )
        self.message_user(request, f"{count} event(s) queued for the relay", messages.SUCCESS)


@admin.register(InboxEvent)
class InboxEventAdmin(_InboxAdmin):
    list_display = ("event_id", "handler", "event_type", "correlation_id", "processed_at")
    list_filter = ("handler", "event_type")
    search_fields = ("event_id", "correlation_id")
    readonly_fields = [f.name for f in InboxEvent._meta.fields]
    change_list_template = "django_interlink/events/inbox_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        dead_letters = path(
            "dead-letters/",
            self.admin_site.admin_view(self.dead_letters),
            name="interlink_dead_letters",
        )
        return [dead_letters, *super().get_urls()]

    def dead_letters(self, request: HttpRequest) -> HttpResponse:
        """The consumer group's dead letters (staff only), with replay and discard."""
        return dead_letters_view(request, dict(self.admin_site.each_context(request)))
