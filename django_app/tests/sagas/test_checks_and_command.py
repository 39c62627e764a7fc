"""The SAGA settings checks and the resume_sagas command (SQLite, plain Python steps)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError

from django_interlink.clients.transport import ServiceRetry, longest_call_seconds
from django_interlink.conf import ms_settings
from django_interlink.models import SagaExecution
from django_interlink.sagas.checks import check_saga_settings
from django_interlink.sagas.definition import SagaDefinition, SagaStep
from django_interlink.sagas.registry import get_definition, register
from shop.order_processing import ORDER_PROCESSING


def _ids(conf):
    with override_settings(INTERLINK={"SAGA": conf}):
        return [m.id for m in check_saga_settings()]


def test_default_saga_settings_pass_the_checks():
    """The shipped defaults raise nothing."""
    assert _ids({}) == []


def test_step_timeout_not_below_lease_is_an_error():
    """A step allowed to outlive its lease would let a second worker run the saga: E061."""
    assert _ids({"LEASE_SECONDS": 5, "STEP_TIMEOUT": 5}) == ["interlink.E061"]


def test_non_numeric_or_too_small_values_are_errors():
    """Each bad number is reported with E060."""
    assert _ids({"LEASE_SECONDS": "30", "COMPENSATION_ATTEMPTS": 0}) == [
        "interlink.E060",
        "interlink.E060",
    ]


def test_a_horizon_that_allows_no_real_wait_is_an_error():
    """COMPENSATION_HORIZON under twice the longer of the wait cap and the lease: E064."""
    assert _ids({"COMPENSATION_HORIZON": 500, "COMPENSATION_WAIT_MAX": 300}) == ["interlink.E064"]
    assert _ids({"COMPENSATION_HORIZON": 170, "COMPENSATION_WAIT_MAX": 10}) == [
        "interlink.E064"  # the default lease is 90 s
    ]
    assert _ids({"COMPENSATION_HORIZON": 600, "COMPENSATION_WAIT_MAX": 300}) == []


def test_service_slower_than_the_lease_is_a_warning():
    """A call that can outlast the lease (timeouts x retries) is flagged W060."""
    services = {"payments": {"BASE_URL": "http://p", "TIMEOUT": 10, "CONNECT_TIMEOUT": 2}}
    with override_settings(INTERLINK={"SERVICES": services, "SAGA": {"LEASE_SECONDS": 30}}):
        assert [m.id for m in check_saga_settings()] == ["interlink.W060"]


# One call to this service can block for 53 s, by hand: 4 attempts of 2 s connect + 10 s read
# (48 s), and before each of the 3 retries urllib3 sleeps what Retry-After asks (up to 1.5 s) or
# else the backoff: max(1.5, 0) + max(1.5, 0.5 * 2) + max(1.5, 0.5 * 4) = 5 s.
SLOW_SERVICE = {
    "BASE_URL": "http://p",
    "CONNECT_TIMEOUT": 2,
    "TIMEOUT": 10,
    "RETRY": {"TOTAL": 3, "BACKOFF_FACTOR": 0.5, "BACKOFF_MAX": 4.0, "RETRY_AFTER_MAX": 1.5},
}


def test_longest_call_is_every_attempt_timed_out_and_the_longest_wait_before_each_retry():
    """The 53 s worked out above; with Retry-After refused, the waits are urllib3's own."""
    with override_settings(INTERLINK={"SERVICES": {"payments": SLOW_SERVICE}}):
        conf = ms_settings.service("payments")
    assert longest_call_seconds(conf) == 53.0
    no_retry_after = {**conf, "RETRY": {**conf["RETRY"], "RETRY_AFTER_MAX": 0.0}}
    retry, waits = ServiceRetry.from_settings(no_retry_after["RETRY"]), []
    for _ in range(3):
        retry = retry.increment("GET", "/payments", error=ConnectTimeoutError())
        waits.append(retry.get_backoff_time())
    assert waits == [0.0, 1.0, 2.0]
    assert longest_call_seconds(no_retry_after) == 48.0 + sum(waits)


def test_w060_compares_the_longest_call_with_the_lease_less_a_heartbeat_period():
    """A 53 s call fits the 53.3 s that an 80 s lease keeps for a call (80 s less a heartbeat
    period of 80/3 s), but not the 52 s of a 78 s lease."""
    services = {"payments": SLOW_SERVICE}
    for lease, expected in ((80, []), (78, ["interlink.W060"])):
        conf = {"SERVICES": services, "SAGA": {"LEASE_SECONDS": lease, "STEP_TIMEOUT": 5}}
        with override_settings(INTERLINK=conf):
            assert (lease, [m.id for m in check_saga_settings()]) == (lease, expected)


def test_a_service_with_default_settings_fits_the_default_lease():
    """The shipped defaults agree with each other: no W060 for a service left at its defaults."""
    services = {"payments": {"BASE_URL": "http://p"}}
    with override_settings(INTERLINK={"SERVICES": services}):
        assert [m.id for m in check_saga_settings()] == []


def _noop(ctx) -> None:
    return None


@pytest.mark.django_db
def test_resume_sagas_once_finishes_stale_and_unclaimed_sagas_only():
    """One pass resumes expired and unleased sagas and leaves a live-leased one alone."""
    register(SagaDefinition("cmd_saga", [SagaStep("a", _noop), SagaStep("b", _noop)]))
    past = timezone.now() - timedelta(seconds=1)
    future = timezone.now() + timedelta(seconds=60)
    SagaExecution.objects.create(
        saga_id="stale",
        saga_type="cmd_saga",
        status="running",
        current_step=1,
        lease_owner="dead",
        lease_expires_at=past,
    )
    SagaExecution.objects.create(saga_id="new", saga_type="cmd_saga")
    SagaExecution.objects.create(
        saga_id="busy",
        saga_type="cmd_saga",
        status="running",
        lease_owner="alive",
        lease_expires_at=future,
    )
    out = StringIO()
    call_command("resume_sagas", "--once", stdout=out)
    lines = out.getvalue().splitlines()
    assert sorted(lines[:-1]) == ["new completed", "stale completed"]
    assert lines[-1] == "resumed 2 saga(s)"
    assert SagaExecution.objects.get(saga_id="busy").status == "running"


@pytest.mark.django_db
def test_resume_sagas_with_a_saga_id_runs_just_that_one():
    """--saga-id resumes the named saga and reports its outcome."""
    register(SagaDefinition("cmd_saga", [SagaStep("a", _noop)]))
    SagaExecution.objects.create(saga_id="one", saga_type="cmd_saga")
    SagaExecution.objects.create(saga_id="other", saga_type="cmd_saga")
    out = StringIO()
    call_command("resume_sagas", "--saga-id", "one", stdout=out)
    assert out.getvalue().strip() == "one completed"
    assert SagaExecution.objects.get(saga_id="other").status == "pending"


def test_a_definition_path_that_does_not_load_is_an_error():
    """SAGA['DEFINITIONS'] naming a missing object or a non-definition is E062."""
    for path in ("shop.order_processing.NO_SUCH_SAGA", "shop.order_processing.PATIENT"):
        with override_settings(INTERLINK={"SAGA": {"DEFINITIONS": [path]}}):
            assert [m.id for m in check_saga_settings()] == ["interlink.E062"]


def test_a_saga_type_named_twice_is_an_error():
    """Two DEFINITIONS entries with the same saga_type are E063."""
    path = "shop.order_processing.ORDER_PROCESSING"
    with override_settings(INTERLINK={"SAGA": {"DEFINITIONS": [path, path]}}):
        assert [m.id for m in check_saga_settings()] == ["interlink.E063"]


def test_the_configured_definition_is_found_by_its_type():
    """A worker finds a saga's definition from its stored type through the settings alone."""
    with (
        override_settings(INTERLINK={"SAGA": {"DEFINITIONS": []}}),
        pytest.raises(LookupError),
    ):
        get_definition("order_processing")
    path = "shop.order_processing.ORDER_PROCESSING"
    with override_settings(INTERLINK={"SAGA": {"DEFINITIONS": [path]}}):
        assert get_definition("order_processing") is ORDER_PROCESSING
