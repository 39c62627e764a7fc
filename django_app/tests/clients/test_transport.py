"""The transport's rules as pure functions: which requests may be re-sent, what Retry-After
asks, which failures never reached the service, how long one call can block.

Exceptions are the ones real sockets raise (a refused port, a full accept queue, a server that
never answers: conftest.py), caught once and handed to the rules.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ResponseError
from urllib3.util.retry import RequestHistory

from django_interlink.clients.transport import (
    IDEMPOTENCY_HEADER,
    CallAttempts,
    IdempotencyAwareAdapter,
    ServiceRetry,
    longest_call_seconds,
    may_retry,
    never_connected,
    retries_logged_as,
    retry_after_seconds,
)
from django_interlink.conf import DEFAULT_RETRY


def _request(method: str, *, key: bool = False) -> requests.PreparedRequest:
    headers = {IDEMPOTENCY_HEADER: "k-1"} if key else {}
    return requests.Request(method, "http://service.test/x", headers=headers).prepare()


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_requests_that_are_safe_to_repeat_may_be_retried(method):
    """GET, HEAD, OPTIONS, PUT and DELETE may be re-sent, key or not."""
    assert may_retry(_request(method)) is True


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_post_or_patch_may_be_retried_only_with_an_idempotency_key(method):
    """Without a key the service cannot tell a re-sent POST/PATCH from a new one."""
    assert (may_retry(_request(method)), may_retry(_request(method, key=True))) == (False, True)
    lower = _request(method)
    lower.method = method.lower()  # a method as a caller may spell it
    assert may_retry(lower) is False


def test_retry_after_in_seconds():
    """delay-seconds, decimals tolerated, surrounding blanks ignored, never negative."""
    assert [retry_after_seconds(v) for v in ("3", " 1.5 ", "0", "-4")] == [3.0, 1.5, 0.0, 0.0]


def test_retry_after_as_an_http_date():
    """An HTTP-date means the seconds until then; a date already past means at once."""
    soon = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    seconds = retry_after_seconds(soon)
    assert seconds is not None
    assert 60 < seconds <= 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("value", ["soon", "", "Wed, 99 Foo 2015"])
def test_an_unparsable_retry_after_is_none(value):
    """Neither seconds nor an HTTP-date: no wait of its own (the caller falls back)."""
    assert retry_after_seconds(value) is None


def test_the_policy_waits_retry_after_up_to_its_cap_or_else_the_backoff():
    """parse_retry_after (urllib3's hook before a retry) caps at RETRY_AFTER_MAX and answers 0
    for an unparsable value, which makes urllib3 sleep the backoff instead."""
    policy = ServiceRetry.from_settings({**DEFAULT_RETRY, "RETRY_AFTER_MAX": 4.0})
    assert [policy.parse_retry_after(v) for v in ("3", "30", "soon")] == [3.0, 4.0, 0.0]


def test_the_policy_follows_the_retry_settings():
    """TOTAL, the status list and the backoff factor and cap are the settings'; a POST reaches
    this policy only when it may be retried, so every method is allowed here."""
    conf = {
        "TOTAL": 5,
        "BACKOFF_FACTOR": 0.5,
        "BACKOFF_MAX": 3.0,
        "STATUS_FORCELIST": [503, "429"],
        "RETRY_AFTER_MAX": 7,
    }
    policy = ServiceRetry.from_settings(conf)
    assert (policy.total, policy.status_forcelist, policy.retry_after_max) == (
        5,
        frozenset({429, 503}),
        7.0,
    )
    assert policy.allowed_methods == frozenset(
        {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"}
    )
    waits = []
    for errors in range(1, 6):
        history = tuple(RequestHistory("GET", "/", None, 503, None) for _ in range(errors))
        waits.append(policy.new(history=history).get_backoff_time())
    assert waits == [0.0, 1.0, 2.0, 3.0, 3.0]  # none before the first retry, then capped


def _failure(url: str, timeout: tuple[float, float] = (2.0, 2.0)) -> requests.RequestException:
    with requests.Session() as session, pytest.raises(requests.RequestException) as info:
        session.get(url, timeout=timeout)
    return info.value


def test_a_refused_or_timed_out_connect_never_connected(closed_port, unanswered_port):
    """Refused, or no answer to the connect: the request never left, however it is wrapped."""
    refused = _failure(f"http://127.0.0.1:{closed_port}/")
    timed_out = _failure(f"http://127.0.0.1:{unanswered_port}/", timeout=(0.2, 2.0))
    assert isinstance(timed_out, requests.ConnectTimeout)
    max_retry = refused.args[0]
    assert isinstance(max_retry, MaxRetryError)
    assert isinstance(max_retry.reason, NewConnectionError)
    # As requests raises it, as urllib3 hands it to the retry policy, and the bare cause.
    for exc in (refused, timed_out, max_retry, max_retry.reason):
        assert never_connected(exc) is True


def test_a_connect_failure_deeper_in_the_cause_chain_never_connected(closed_port):
    """An error raised from (or while handling) a failed connect still never connected."""
    refused = _failure(f"http://127.0.0.1:{closed_port}/")
    for link in ("__cause__", "__context__"):
        outer = RuntimeError("wrapped")
        setattr(outer, link, RuntimeError("in between"))
        setattr(getattr(outer, link), link, refused)
        assert never_connected(outer) is True


def test_a_wrapper_that_names_a_failed_connect_never_connected_without_its_chain(closed_port):
    """urllib3's MaxRetryError names the failed connect as its `reason`, and requests'
    ConnectionError carries that MaxRetryError as its argument: either is enough when the
    chain is lost (an error copied, or built by another layer from the real cause)."""
    reason = _failure(f"http://127.0.0.1:{closed_port}/").args[0].reason
    max_retry = MaxRetryError(None, "/", reason)  # type: ignore[arg-type]
    assert (max_retry.__cause__, max_retry.__context__) == (None, None)
    assert never_connected(max_retry) is True
    assert never_connected(requests.ConnectionError(max_retry)) is True
    read_failure = MaxRetryError(None, "/", ResponseError("read"))  # type: ignore[arg-type]
    assert never_connected(requests.ConnectionError(read_failure)) is False


def test_a_failure_after_connecting_may_have_been_received(silent_port):
    """A read timeout (or any failure that is not a failed connect) may hide a request the
    service received; so does a failure whose cause is unknown."""
    read_timeout = _failure(f"http://127.0.0.1:{silent_port}/", timeout=(2.0, 0.2))
    assert isinstance(read_timeout, requests.ReadTimeout)
    giving_up = MaxRetryError(None, "/", ResponseError("too many 503 error responses"))  # type: ignore[arg-type]
    for exc in (read_timeout, giving_up, requests.ConnectionError(), RuntimeError()):
        assert never_connected(exc) is False
    assert never_connected(None) is False


def test_call_attempts_remember_an_attempt_that_may_have_arrived(closed_port, silent_port):
    """Once an attempt may have reached the service, later refused ones do not unsay it; an
    attempt answered (no error) or refused adds nothing."""
    refused = _failure(f"http://127.0.0.1:{closed_port}/")
    read_timeout = _failure(f"http://127.0.0.1:{silent_port}/", timeout=(2.0, 0.2))
    with retries_logged_as("payments", "createPayment", "r-1") as call:
        assert call == CallAttempts("payments", "createPayment", "r-1")
        call.failed(None)
        call.failed(refused)
        assert call.unanswered is False
        call.failed(read_timeout)
        call.failed(refused)
        assert call.unanswered is True


def test_both_pools_of_the_adapter_take_the_pool_size():
    """The retrying and the single-shot pool keep as many connections as asked (requests'
    default of 10 unless told)."""
    retry = ServiceRetry.from_settings(DEFAULT_RETRY)
    for size, adapter in (
        (3, IdempotencyAwareAdapter(retry, pool_maxsize=3)),
        (10, IdempotencyAwareAdapter(retry)),
    ):
        pools = (adapter.retrying.poolmanager, adapter.single_shot.poolmanager)
        assert [pool.connection_pool_kw["maxsize"] for pool in pools] == [size, size]


def _conf(**retry: float) -> dict[str, object]:
    return {"CONNECT_TIMEOUT": 1.0, "TIMEOUT": 2.0, "RETRY": {**DEFAULT_RETRY, **retry}}


def test_the_longest_call_counts_every_attempt_and_the_longest_wait_before_each_retry():
    """4 attempts of (1 + 2) s, plus before retry 1 the Retry-After cap (no backoff yet), before
    retries 2 and 3 the backoff (2 s, then 4 s capped to 3 s) where it outlasts the cap."""
    conf = _conf(TOTAL=3, BACKOFF_FACTOR=1.0, BACKOFF_MAX=3.0, RETRY_AFTER_MAX=0.5)
    assert longest_call_seconds(conf) == 4 * 3.0 + 0.5 + 2.0 + 3.0


def test_the_longest_call_waits_the_retry_after_cap_where_it_outlasts_the_backoff():
    """A Retry-After cap longer than any backoff is what each retry may wait."""
    conf = _conf(TOTAL=2, BACKOFF_FACTOR=0.1, BACKOFF_MAX=2.0, RETRY_AFTER_MAX=10.0)
    assert longest_call_seconds(conf) == 3 * 3.0 + 2 * 10.0
    assert longest_call_seconds(_conf(TOTAL=0)) == 3.0  # one attempt, no wait
