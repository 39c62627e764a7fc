"""Admin for saga executions: filters, a drawn step timeline, and resume / retry-undo actions.

The admin only reads and calls the orchestrator's services; it never edits saga state by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models.sagas import SagaExecution, SagaStatus, SagaStepLog
from .definition import get_definition
from .mermaid import saga_to_mermaid
from .orchestrator import saga_resume, saga_retry_compensation
from .timeline import timeline_svg

if TYPE_CHECKING:
    _InlineBase = admin.TabularInline[SagaStepLog, SagaExecution]
    _AdminBase = admin.ModelAdmin[SagaExecution]
else:  # the admin classes are not subscriptable at runtime
    _InlineBase = admin.TabularInline
    _AdminBase = admin.ModelAdmin


class SagaStepLogInline(_InlineBase):
    model = SagaStepLog
    extra = 0
    can_delete = False
    fields = (
        "step_index",
        "step_name",
        "direction",
        "attempt",
        "status",
        "started_at",
        "finished_at",
        "error",
        "idempotency_key",
        "worker",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SagaExecution)
class SagaExecutionAdmin(_AdminBase):
    list_display = (
        "saga_id",
        "saga_type",
        "status_badge",
        "current_step",
        "compensating",
        "created_at",
        "updated_at",
    )
    list_filter = ("saga_type", "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("saga_id", "error_message")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    inlines = (SagaStepLogInline,)
    actions = ("resume_sagas", "retry_compensation")
    fields = (
        "saga_id",
        "saga_type",
        "status",
        "current_step",
        "compensating",
        "error_message",
        "timeline",
        "context_data",
        "lease_owner",
        "lease_expires_at",
        "created_at",
        "updated_at",
        "completed_at",
        "diagram",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Saga state changes only through the orchestrator (the actions), never by hand.
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: SagaExecution) -> SafeString:
        colour = {
            SagaStatus.COMPLETED: "#2e8b57",
            SagaStatus.COMPENSATED: "#2874a6",
            SagaStatus.FAILED: "#7f8c8d",
            SagaStatus.NEEDS_ATTENTION: "#c0392b",
        }.get(SagaStatus(obj.status), "#e67e22")
        return format_html(
            '<span style="color:{};font-weight:bold">{}</span>', colour, obj.get_status_display()
        )

    @admin.display(description="step timeline")
    def timeline(self, obj: SagaExecution) -> SafeString:
        return timeline_svg(list(obj.step_logs.all()))

    @admin.display(description="definition (Mermaid)")
    def diagram(self, obj: SagaExecution) -> SafeString:
        try:
            source = saga_to_mermaid(get_definition(obj.saga_type))
        except LookupError:
            return format_html("<em>{}</em>", "no definition registered for this type")
        return format_html('<pre class="mermaid">{}</pre>', source)

    def has_resume_permission(self, request: HttpRequest) -> bool:
        # The actions move sagas: they need the change permission even though the form is
        # read-only for everybody.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Resume selected stale sagas (lease expired)", permissions=["resume"])
    def resume_sagas(self, request: HttpRequest, queryset: QuerySet[SagaExecution]) -> None:
        for saga_id in queryset.values_list("saga_id", flat=True):
            result = saga_resume(saga_id=saga_id)
            self.message_user(
                request,
                f"Saga {saga_id} is now {result.status}",
                messages.SUCCESS if result.finished else messages.WARNING,
            )

    @admin.action(
        description="Retry the compensation of needs-attention sagas", permissions=["resume"]
    )
    def retry_compensation(self, request: HttpRequest, queryset: QuerySet[SagaExecution]) -> None:
        chosen = queryset.filter(status=SagaStatus.NEEDS_ATTENTION)
        skipped = queryset.count() - chosen.count()
        for saga_id in chosen.values_list("saga_id", flat=True):
            result = saga_retry_compensation(saga_id=saga_id)
            level = messages.SUCCESS if result.status == SagaStatus.COMPENSATED else messages.ERROR
            self.message_user(request, f"Saga {saga_id} is now {result.status}", level)
        if skipped:
            self.message_user(
                request, f"{skipped} saga(s) skipped: not in needs attention", messages.WARNING
            )
