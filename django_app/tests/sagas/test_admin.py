"""The saga admin pages render for a superuser, draw the timeline, and their actions work."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from microservices.exceptions import ServiceHTTPError, StepRejected
from microservices.models import SagaExecution, SagaStatus, SagaStepLog
from microservices.sagas.definition import RetryPolicy, SagaDefinition, SagaStep, register
from microservices.sagas.orchestrator import saga_execute

pytestmark = pytest.mark.django_db

FAST = {"SAGA": {"COMPENSATION_ATTEMPTS": 2, "COMPENSATION_BACKOFF": 0.0}}


@pytest.fixture
def admin_client_():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


class Flaky:
    """A compensation that fails while `broken` is set."""

    def __init__(self) -> None:
        self.broken = True

    def undo(self, ctx) -> None:
        if self.broken:
            raise ServiceHTTPError("refund endpoint down <b>", status_code=503)


def _reject(ctx) -> None:
    raise StepRejected("card <declined>")


def _noop(ctx) -> None:
    return None


@pytest.fixture
def needs_attention():
    flaky = Flaky()
    definition = register(
        SagaDefinition(
            "admin_saga",
            [
                SagaStep("charge", _noop, flaky.undo),
                SagaStep("ship", _reject, retry=RetryPolicy(attempts=1)),
            ],
        )
    )
    with override_settings(MICROSERVICES=FAST):
        result = saga_execute(definition=definition, saga_id="na-1", context={"x": 1})
    assert result.status == SagaStatus.NEEDS_ATTENTION
    return flaky


def test_changelist_renders_with_filters(admin_client_, needs_attention):
    """The list shows the saga and offers type, status and date filters."""
    response = admin_client_.get(reverse("admin:microservices_sagaexecution_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "na-1" in body
    assert "admin_saga" in body
    assert "?status__exact=needs_attention" in body
    assert "?saga_type=admin_saga" in body or "saga_type__exact=admin_saga" in body
    assert "created_at__gte" in body


def test_detail_page_draws_the_timeline_with_escaped_errors(admin_client_, needs_attention):
    """The detail page has an SVG bar per attempt, undo bars distinct, error text escaped."""
    execution = SagaExecution.objects.get(saga_id="na-1")
    url = reverse("admin:microservices_sagaexecution_change", args=[execution.pk])
    response = admin_client_.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('<g class="attempt') == SagaStepLog.objects.count() == 4
    assert body.count('<g class="attempt compensation failed">') == 2
    assert '<g class="attempt action rejected">' in body
    assert "card &lt;declined&gt;" in body
    assert "card <declined>" not in body
    assert "flowchart TD" in body
    start = body.index('<svg xmlns="http://www.w3.org/2000/svg" class="saga-timeline"')
    fragment = body[start : body.index("</svg>", start) + len("</svg>")]
    svg = ElementTree.fromstring(fragment)  # noqa: S314  (our own page)
    bars = svg.findall("{http://www.w3.org/2000/svg}g")
    assert len(bars) == 4


def test_retry_compensation_action_finishes_the_undo(admin_client_, needs_attention):
    """Once the cause is fixed, the admin action brings a needs-attention saga to COMPENSATED."""
    needs_attention.broken = False
    execution = SagaExecution.objects.get(saga_id="na-1")
    with override_settings(MICROSERVICES=FAST):
        response = admin_client_.post(
            reverse("admin:microservices_sagaexecution_changelist"),
            {"action": "retry_compensation", "_selected_action": [execution.pk]},
            follow=True,
        )
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == SagaStatus.COMPENSATED
    body = response.content.decode()
    assert "Saga na-1 is now compensated" in body


def test_resume_action_runs_a_stale_saga_to_its_end(admin_client_):
    """The resume action claims a saga whose lease expired and finishes it."""
    register(SagaDefinition("admin_resume", [SagaStep("a", _noop), SagaStep("b", _noop)]))
    execution = SagaExecution.objects.create(
        saga_id="stale-1",
        saga_type="admin_resume",
        status=SagaStatus.RUNNING,
        current_step=1,
        lease_owner="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=5),
    )
    response = admin_client_.post(
        reverse("admin:microservices_sagaexecution_changelist"),
        {"action": "resume_sagas", "_selected_action": [execution.pk]},
        follow=True,
    )
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == SagaStatus.COMPLETED
    assert list(execution.step_logs.values_list("step_name", flat=True)) == ["b"]


def test_empty_timeline_says_nothing_ran(admin_client_):
    """A saga with no attempts yet renders a text placeholder instead of an empty picture."""
    execution = SagaExecution.objects.create(saga_id="new", saga_type="admin_resume")
    url = reverse("admin:microservices_sagaexecution_change", args=[execution.pk])
    body = admin_client_.get(url).content.decode()
    assert "No step has run yet." in body


def test_view_only_staff_sees_sagas_but_not_the_actions(needs_attention):
    """A staff user with only the view permission can list sagas but cannot resume them."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_sagaexecution"))
    client = Client()
    client.force_login(user)
    url = reverse("admin:microservices_sagaexecution_changelist")
    body = client.get(url).content.decode()
    assert "na-1" in body
    assert "retry_compensation" not in body
    execution = SagaExecution.objects.get(saga_id="na-1")
    client.post(url, {"action": "retry_compensation", "_selected_action": [execution.pk]})
    execution.refresh_from_db()
    assert execution.status == SagaStatus.NEEDS_ATTENTION
