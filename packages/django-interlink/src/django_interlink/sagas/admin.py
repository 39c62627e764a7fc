"""Admin for saga executions: filters, a drawn step timeline, and resume / retry-undo actions.

The admin only reads and calls the saga services; it never edits saga state by hand, and it
never runs a saga: the actions hand sagas to the `manage.py resume_sagas` workers, so a request
never waits on a service call or a backoff sleep.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models.sagas import ACTIVE_STATUSES, SagaExecution, SagaStatus, SagaStepLog, StepDirection
from .definition import SagaDefinition
from .masking import masked
from .mermaid import saga_to_mermaid
from .selectors import definition_of, position, saga_attempts
from .services import saga_hand_off, saga_reopen_compensation
from .timeline import format_duration, timeline_svg
from .waiting import waiting_for

if TYPE_CHECKING:
    _InlineBase = admin.TabularInline[SagaStepLog, SagaExecution]
    _AdminBase = admin.ModelAdmin[SagaExecution]
else:  # the admin classes are not subscriptable at runtime
    _InlineBase = admin.TabularInline
    _AdminBase = admin.ModelAdmin

STATUS_COLOURS = {
    SagaStatus.COMPLETED: "#2e8b57",
    SagaStatus.COMPENSATED: "#2874a6",
    SagaStatus.FAILED: "#7f8c8d",
    SagaStatus.NEEDS_ATTENTION: "#c0392b",
}
ACTIVE_COLOUR = "#d35400"
ERROR_PREVIEW = 64


def _when(value: datetime | None) -> str:
    """A timestamp to the millisecond, in the current time zone (steps take milliseconds)."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d} {local:%Z}"


class SagaStepLogInline(_InlineBase):
    model = SagaStepLog
    extra = 0
    can_delete = False
    verbose_name = "attempt"
    verbose_name_plural = "attempts (step log)"
    fields = (
        "step",
        "outcome",
        "started",
        "duration",
        "error",
        "idempotency_key",
        "worker",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="attempt")
    def step(self, log: SagaStepLog) -> str:
        # The timeline's label, so a row and its bar are found by the same words.
        kind = "undo" if log.direction == StepDirection.COMPENSATION else "do"
        return f"{log.step_index + 1}. {log.step_name} · {kind} #{log.attempt}"

    @admin.display(description="outcome")
    def outcome(self, log: SagaStepLog) -> str:
        if log.finished_at is not None:
            return str(log.status)
        # The timeline's reading of the attempt, so the row and its bar never disagree.
        state = next(a.state for a in saga_attempts(log.execution) if a.log.pk == log.pk)
        return "running" if state == "running" else "interrupted (process died)"

    @admin.display(description="started")
    def started(self, log: SagaStepLog) -> str:
        # The saga's own page gives the date: the time alone, unless the attempt ran on
        # another day than the saga began (a resume days later).
        text = _when(log.started_at)
        if (
            timezone.localtime(log.started_at).date()
            == timezone.localtime(log.execution.created_at).date()
        ):
            return text.split(" ", 1)[1]
        return text

    @admin.display(description="duration")
    def duration(self, log: SagaStepLog) -> str:
        return "-" if log.duration_ms is None else format_duration(log.duration_ms)


@admin.register(SagaExecution)
class SagaExecutionAdmin(_AdminBase):
    change_list_template = "django_interlink/sagas/change_list.html"
    change_form_template = "django_interlink/sagas/change_form.html"
    list_display = (
        "saga",
        "status_badge",
        "position",
        "error_preview",
        "created_short",
    )
    list_display_links = ("saga",)
    list_filter = ("saga_type", "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("saga_id", "error_message")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    inlines = (SagaStepLogInline,)
    actions = ("resume_sagas", "retry_compensation")
    fieldsets = (
        (
            None,
            {"fields": ("saga_id", "saga_type", "status_badge", "position", "waiting", "error")},
        ),
        ("Step timeline", {"fields": ("timeline",)}),
        ("Context", {"fields": ("context",)}),
        (
            "Lease and times",
            {"fields": ("lease_owner", "lease", "created", "updated", "completed")},
        ),
        ("Definition", {"fields": ("diagram",)}),
    )
    readonly_fields = (
        "saga_id",
        "saga_type",
        "status_badge",
        "position",
        "waiting",
        "error",
        "timeline",
        "context",
        "lease_owner",
        "lease",
        "created",
        "updated",
        "completed",
        "diagram",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Saga state changes only through the services (the actions), never by hand.
        return False

    @admin.display(description="saga", ordering="saga_id")
    def saga(self, obj: SagaExecution) -> SafeString:
        # The id with its type under it: one column, so the list fits beside the filters.
        return format_html(
            '<span class="saga-id">{}</span><br><span class="saga-type">{}</span>',
            obj.saga_id,
            obj.saga_type,
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: SagaExecution) -> SafeString:
        colour = STATUS_COLOURS.get(SagaStatus(obj.status), ACTIVE_COLOUR)
        stale = " · lease expired" if obj.lease_lapsed() else ""
        if obj.not_before is not None and obj.status in ACTIVE_STATUSES:
            stale = f" · waits until {_when(obj.not_before)}"
        return format_html(
            '<span class="saga-status saga-status-{}" style="color:{};font-weight:bold">'
            "{}{}</span>",
            obj.status,
            colour,
            obj.get_status_display(),
            stale,
        )

    @admin.display(description="position", ordering="current_step")
    def position(self, obj: SagaExecution) -> str:
        return position(obj)

    @admin.display(description="error")
    def error_preview(self, obj: SagaExecution) -> SafeString | str:
        text = " ".join(obj.error_message.split())
        if not text:
            return "-"
        short = text if len(text) <= ERROR_PREVIEW else text[: ERROR_PREVIEW - 1] + "…"
        return format_html('<span class="saga-error" title="{}">{}</span>', text, short)

    @admin.display(description="waiting")
    def waiting(self, obj: SagaExecution) -> str:
        wait = waiting_for(obj)
        return "-" if wait is None else str(wait)

    @admin.display(description="error message")
    def error(self, obj: SagaExecution) -> SafeString | str:
        if not obj.error_message:
            return "-"
        # One cause per line: the engine joins the action's and the undo's errors with "; ".
        return format_html(
            '<pre class="saga-error-full">{}</pre>', obj.error_message.replace("; ", ";\n")
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: SagaExecution) -> str:
        return _when(obj.created_at)

    @admin.display(description="created", ordering="created_at")
    def created_short(self, obj: SagaExecution) -> str:
        # The list's column: to the second, so sagas started the same minute are told apart.
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: SagaExecution) -> str:
        return _when(obj.updated_at)

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, obj: SagaExecution) -> str:
        return _when(obj.completed_at)

    @admin.display(description="lease expires")
    def lease(self, obj: SagaExecution) -> str:
        text = _when(obj.lease_expires_at)
        return text + " (lapsed: resume it)" if obj.lease_lapsed() else text

    @admin.display(description="context data")
    def context(self, obj: SagaExecution) -> SafeString:
        text = json.dumps(masked(obj.context_data), indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="saga-context">{}</pre>', text)

    @admin.display(description="step timeline")
    def timeline(self, obj: SagaExecution) -> SafeString:
        return timeline_svg(list(obj.step_logs.all()), lease_expires_at=obj.live_lease)

    @admin.display(description="definition (Mermaid)")
    def diagram(self, obj: SagaExecution) -> SafeString:
        definition = definition_of(obj.saga_type)
        if definition is None:
            return format_html("<em>{}</em>", "no definition registered for this type")
        source = saga_to_mermaid(definition)
        node = _current_node(obj)
        here = "-"
        if node is not None and f"\n    {node}" in source:
            here = _node_label(definition, node)
            source += f"    classDef here stroke:#000,stroke-width:4px\n    class {node} here\n"
        steps = " → ".join(step.name for step in definition.steps)
        return format_html(
            '<p class="saga-steps">{} steps: {}</p>'
            '<details class="saga-mermaid"><summary>Mermaid source of the flowchart (paste'
            " it into any Mermaid renderer; where this saga is, {}, has a thick border)"
            "</summary>"
            '<pre class="mermaid">{}</pre></details>',
            len(definition),
            steps,
            here,
            source,
        )

    def has_resume_permission(self, request: HttpRequest) -> bool:
        # The actions move sagas: they need the change permission even though the form is
        # read-only for everybody.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(
        description="Resume selected sagas now (lease expired, or waiting)", permissions=["resume"]
    )
    def resume_sagas(self, request: HttpRequest, queryset: QuerySet[SagaExecution]) -> None:
        handed, busy, finished = [], [], 0
        for saga_id, status in queryset.values_list("saga_id", "status"):
            if status not in ACTIVE_STATUSES:
                finished += 1
            elif saga_hand_off(saga_id=saga_id):
                handed.append(saga_id)
            else:
                busy.append(saga_id)
        if handed:
            self.message_user(
                request,
                f"Handed to the resume_sagas workers: {', '.join(handed)}. The next worker pass "
                "runs them; reload to follow.",
                messages.SUCCESS,
            )
        if busy:
            self.message_user(
                request,
                f"Still leased by a live worker, left alone: {', '.join(busy)}",
                messages.WARNING,
            )
        if finished:
            self.message_user(
                request, f"{finished} saga(s) skipped: already finished", messages.WARNING
            )

    @admin.action(
        description="Retry the compensation of needs-attention sagas", permissions=["resume"]
    )
    def retry_compensation(self, request: HttpRequest, queryset: QuerySet[SagaExecution]) -> None:
        chosen = queryset.filter(status=SagaStatus.NEEDS_ATTENTION)
        skipped = queryset.count() - chosen.count()
        reopened = [
            saga_id
            for saga_id in chosen.values_list("saga_id", flat=True)
            if saga_reopen_compensation(saga_id=saga_id)
        ]
        if reopened:
            self.message_user(
                request,
                f"Compensation handed to the resume_sagas workers: {', '.join(reopened)}. "
                "Reload to follow.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request, f"{skipped} saga(s) skipped: not in needs attention", messages.WARNING
            )


def _current_node(obj: SagaExecution) -> str | None:
    """The Mermaid node (as `saga_to_mermaid` names them) where this saga is or ended."""
    if obj.status in STATUS_COLOURS:  # terminal
        return str(obj.status)
    return f"c{obj.current_step}" if obj.compensating else f"a{obj.current_step}"


def _node_label(definition: SagaDefinition, node: str) -> str:
    """A Mermaid node id as a person reads it: "undo process_payment", "needs attention"."""
    if node[0] in "ac" and node[1:].isdigit() and int(node[1:]) < len(definition):
        name = definition.steps[int(node[1:])].name
        return f"undo {name}" if node[0] == "c" else name
    return node.replace("_", " ")
