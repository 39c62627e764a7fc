"""The saga admin pages render for a superuser, draw the timeline, and their actions work."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_interlink.exceptions import ServiceHTTPError, StepRejected
from django_interlink.models import SagaExecution, SagaStatus, SagaStepLog
from django_interlink.sagas.definition import RetryPolicy, SagaDefinition, SagaStep
from django_interlink.sagas.registry import register
from django_interlink.sagas.services import saga_execute, saga_resume_stale

pytestmark = pytest.mark.django_db

FAST = {"SAGA": {"COMPENSATION_ATTEMPTS": 2, "COMPENSATION_BACKOFF": 0.0}}


@pytest.fixture
def admin_client_():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


class Flaky:
    """A compensation that fails for good (a 422) while `broken` is set."""

    def __init__(self) -> None:
        self.broken = True

    def undo(self, ctx) -> None:
        if self.broken:
            raise ServiceHTTPError("refund endpoint down <b>", status_code=422)


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
    with override_settings(INTERLINK=FAST):
        result = saga_execute(definition=definition, saga_id="na-1", context={"x": 1})
    assert result.status == SagaStatus.NEEDS_ATTENTION
    return flaky


def test_changelist_renders_with_filters(admin_client_, needs_attention):
    """The list shows the saga and offers type, status and date filters."""
    response = admin_client_.get(reverse("admin:interlink_sagaexecution_changelist"))
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
    url = reverse("admin:interlink_sagaexecution_change", args=[execution.pk])
    response = admin_client_.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('<g class="attempt') == SagaStepLog.objects.count() == 3
    assert body.count('<g class="attempt compensation failed">') == 1
    assert '<g class="attempt action rejected">' in body
    assert "card &lt;declined&gt;" in body
    assert "card <declined>" not in body
    assert "flowchart TD" in body
    start = body.index('<svg xmlns="http://www.w3.org/2000/svg" class="saga-timeline"')
    fragment = body[start : body.index("</svg>", start) + len("</svg>")]
    svg = ElementTree.fromstring(fragment)  # noqa: S314  (our own page)
    bars = svg.findall("{http://www.w3.org/2000/svg}g")
    assert len(bars) == 3


def test_retry_compensation_action_hands_the_undo_to_a_worker(admin_client_, needs_attention):
    """The action only reopens the saga (COMPENSATING, no owner, no new attempt in the request);
    the next worker pass brings it to COMPENSATED."""
    needs_attention.broken = False
    execution = SagaExecution.objects.get(saga_id="na-1")
    attempts = execution.step_logs.count()
    with override_settings(INTERLINK=FAST):
        response = admin_client_.post(
            reverse("admin:interlink_sagaexecution_changelist"),
            {"action": "retry_compensation", "_selected_action": [execution.pk]},
            follow=True,
        )
        assert response.status_code == 200
        execution.refresh_from_db()
        assert (execution.status, execution.lease_owner, execution.lease_expires_at) == (
            SagaStatus.COMPENSATING,
            "",
            None,
        )
        assert execution.step_logs.count() == attempts
        assert "Compensation handed to the resume_sagas workers: na-1" in response.content.decode()
        [result] = saga_resume_stale(owner="worker-1")
    assert result.status == SagaStatus.COMPENSATED


def test_resume_action_hands_a_stale_saga_to_a_worker(admin_client_):
    """The action clears the dead worker's lease and runs nothing; a worker pass finishes it."""
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
        reverse("admin:interlink_sagaexecution_changelist"),
        {"action": "resume_sagas", "_selected_action": [execution.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Handed to the resume_sagas workers: stale-1" in response.content.decode()
    execution.refresh_from_db()
    assert (execution.status, execution.lease_owner) == (SagaStatus.RUNNING, "")
    assert not execution.step_logs.exists()
    [result] = saga_resume_stale(owner="worker-1")
    assert result.status == SagaStatus.COMPLETED
    assert list(execution.step_logs.values_list("step_name", flat=True)) == ["b"]


def test_resume_action_leaves_a_saga_a_live_worker_holds(admin_client_):
    """A saga whose lease is live is not touched: its worker is still on it."""
    register(SagaDefinition("admin_resume", [SagaStep("a", _noop), SagaStep("b", _noop)]))
    expires = timezone.now() + timedelta(minutes=5)
    execution = SagaExecution.objects.create(
        saga_id="live-1",
        saga_type="admin_resume",
        status=SagaStatus.RUNNING,
        lease_owner="alive",
        lease_expires_at=expires,
    )
    response = admin_client_.post(
        reverse("admin:interlink_sagaexecution_changelist"),
        {"action": "resume_sagas", "_selected_action": [execution.pk]},
        follow=True,
    )
    assert "Still leased by a live worker, left alone: live-1" in response.content.decode()
    execution.refresh_from_db()
    assert (execution.lease_owner, execution.lease_expires_at) == ("alive", expires)


def test_empty_timeline_says_nothing_ran(admin_client_):
    """A saga with no attempts yet renders a text placeholder instead of an empty picture."""
    execution = SagaExecution.objects.create(saga_id="new", saga_type="admin_resume")
    url = reverse("admin:interlink_sagaexecution_change", args=[execution.pk])
    body = admin_client_.get(url).content.decode()
    assert "No step has run yet." in body


def test_view_only_staff_sees_sagas_but_not_the_actions(needs_attention):
    """A staff user with only the view permission can list sagas but cannot resume them."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_sagaexecution"))
    client = Client()
    client.force_login(user)
    url = reverse("admin:interlink_sagaexecution_changelist")
    body = client.get(url).content.decode()
    assert "na-1" in body
    assert "retry_compensation" not in body
    execution = SagaExecution.objects.get(saga_id="na-1")
    client.post(url, {"action": "retry_compensation", "_selected_action": [execution.pk]})
    execution.refresh_from_db()
    assert execution.status == SagaStatus.NEEDS_ATTENTION


def _change_page(client, saga_id: str) -> str:
    execution = SagaExecution.objects.get(saga_id=saga_id)
    url = reverse("admin:interlink_sagaexecution_change", args=[execution.pk])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_changelist_names_the_step_and_shows_the_error_escaped(admin_client_, needs_attention):
    """Each row says where the saga stopped by step name and previews its error, escaped."""
    body = admin_client_.get(reverse("admin:interlink_sagaexecution_changelist")).content
    text = body.decode()
    assert "undo failed at 1/2 charge" in text
    assert "card &lt;declined&gt;" in text
    assert "card <declined>" not in text


def test_active_saga_whose_lease_lapsed_is_flagged_in_list_and_page(admin_client_):
    """A running saga nobody holds any more says so: "lease expired", "lapsed: resume it"."""
    register(SagaDefinition("admin_stale", [SagaStep("a", _noop), SagaStep("b", _noop)]))
    SagaExecution.objects.create(
        saga_id="stale-2",
        saga_type="admin_stale",
        status=SagaStatus.RUNNING,
        current_step=1,
        lease_owner="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=5),
    )
    listing = admin_client_.get(reverse("admin:interlink_sagaexecution_changelist"))
    assert "Running · lease expired" in listing.content.decode()
    assert "2/2 b" in listing.content.decode()
    assert "(lapsed: resume it)" in _change_page(admin_client_, "stale-2")


def test_dead_attempt_of_a_resumed_saga_reads_interrupted_not_running(admin_client_):
    """An attempt whose worker died (no finish, a later attempt resumed) is "interrupted" in
    the step log and the timeline, though its row still says RUNNING."""
    register(SagaDefinition("admin_crash", [SagaStep("pay", _noop)]))
    execution = SagaExecution.objects.create(
        saga_id="crashed", saga_type="admin_crash", status=SagaStatus.COMPLETED
    )
    t0 = execution.created_at
    SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name="pay",
        direction="action",
        attempt=1,
        status="running",
        started_at=t0,
    )
    SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name="pay",
        direction="action",
        attempt=2,
        status="succeeded",
        started_at=t0 + timedelta(seconds=2),
        finished_at=t0 + timedelta(seconds=2, milliseconds=5),
    )
    body = _change_page(admin_client_, "crashed")
    outcomes = re.findall(r'class="field-outcome">\s*<p>(.*?)</p>', body)
    assert outcomes == ["interrupted (process died)", "succeeded"]
    assert '<g class="attempt action interrupted">' in body
    assert "resumed 2.00 s later" in body


@pytest.mark.parametrize(
    ("lease_in", "outcome"), [(30, "running"), (-5, "interrupted (process died)")]
)
def test_an_open_attempt_reads_running_while_the_lease_lives_as_its_bar_does(
    admin_client_, lease_in: int, outcome: str
):
    """The step log's row and the timeline's bar read an open attempt by the same rule."""
    register(SagaDefinition("admin_open", [SagaStep("pay", _noop)]))
    execution = SagaExecution.objects.create(
        saga_id="open",
        saga_type="admin_open",
        status=SagaStatus.RUNNING,
        lease_owner="w",
        lease_expires_at=timezone.now() + timedelta(seconds=lease_in),
    )
    SagaStepLog.objects.create(
        execution=execution,
        step_index=0,
        step_name="pay",
        direction="action",
        attempt=1,
        status="running",
        started_at=execution.created_at,
    )
    body = _change_page(admin_client_, "open")
    assert re.findall(r'class="field-outcome">\s*<p>(.*?)</p>', body) == [outcome]
    state = "running" if outcome == "running" else "interrupted"
    assert f'<g class="attempt action {state}">' in body


def test_context_is_pretty_printed_with_secrets_cut_to_a_hint(admin_client_):
    """The context JSON is indented, and a card token or key shows only its first characters."""
    register(SagaDefinition("admin_ctx", [SagaStep("a", _noop)]))
    SagaExecution.objects.create(
        saga_id="ctx",
        saga_type="admin_ctx",
        context_data={"card_token": "tok_live_abcdef", "payment_method": {"token": "tok_9z"}},
    )
    body = _change_page(admin_client_, "ctx")
    assert "tok_live_abcdef" not in body
    assert "tok_9z" not in body
    assert "&quot;card_token&quot;: &quot;tok_…&quot;" in body
    assert '<pre class="saga-context">{\n  &quot;card_token&quot;' in body


def test_mermaid_source_is_folded_and_marks_where_the_saga_ended(admin_client_, needs_attention):
    """The definition reads as a step list; its Mermaid source is folded away and highlights
    the saga's node."""
    body = _change_page(admin_client_, "na-1")
    assert "2 steps: charge → ship" in body
    assert '<details class="saga-mermaid">' in body
    assert "class needs_attention here" in body
