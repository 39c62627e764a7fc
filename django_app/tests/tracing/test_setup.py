"""Tracing is off unless the environment asks: the API's no-op tracer, no SDK, no thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace

from django_interlink.tracing import capture, tracer, tracing_setup

REPO = Path(__file__).resolve().parents[3]

OFF_PROBE = """
import sys
import threading
from opentelemetry import trace
from django_interlink.tracing import capture, tracer, tracing_setup
assert tracing_setup() is False
with tracer().start_as_current_span("nothing") as span:
    assert not span.is_recording()
    assert capture() == {}
assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
assert threading.active_count() == 1, threading.enumerate()
assert "opentelemetry.sdk" not in sys.modules
print("off")
"""

FILE_PROBE = """
from django_interlink.tracing import capture, tracer, tracing_setup
assert tracing_setup(service_name="probe", instrument=False) is True
with tracer().start_as_current_span("parent"):
    with tracer().start_as_current_span("child"):
        print(capture()["traceparent"])
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_") and key != "INTERLINK_TRACES_FILE"
    }
    environment["PYTHONPATH"] = f"{REPO / 'django_app'}{os.pathsep}{REPO}"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
    ],
    ids=["unset", "none", "sdk-disabled"],
)
def test_off_is_the_api_no_op_tracer_with_no_sdk_and_no_thread(env):
    """Without OTEL_TRACES_EXPORTER (or with none, or the SDK disabled) nothing is set up:
    spans do not record, nothing is captured, no exporter thread runs, the SDK is not even
    imported."""
    assert _python(OFF_PROBE, **env).stdout.strip() == "off"


def test_the_file_exporter_writes_one_json_line_a_span(tmp_path):
    """OTEL_TRACES_EXPORTER=jsonfile appends each ended span to the file, with its parent."""
    path = tmp_path / "spans-{pid}.jsonl"
    out = _python(FILE_PROBE, OTEL_TRACES_EXPORTER="jsonfile", INTERLINK_TRACES_FILE=str(path))
    (written,) = tmp_path.glob("spans-*.jsonl")
    spans = {s["name"]: s for s in map(json.loads, written.read_text().splitlines())}
    assert set(spans) == {"parent", "child"}
    assert spans["child"]["parent_id"] == spans["parent"]["context"]["span_id"]
    assert spans["parent"]["resource"]["attributes"]["service.name"] == "probe"
    trace_id = out.stdout.strip().split("-")[1]
    assert spans["child"]["context"]["trace_id"] == f"0x{trace_id}"


INSTRUMENTED_PROBE = """
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from django_interlink.tracing import tracing_setup
assert tracing_setup() is True
instrumentors = {
    "django": DjangoInstrumentor(),
    "requests": RequestsInstrumentor(),
    "psycopg": PsycopgInstrumentor(),
    "redis": RedisInstrumentor(),
}
print(",".join(sorted(n for n, i in instrumentors.items() if i.is_instrumented_by_opentelemetry)))
"""


@pytest.mark.parametrize(
    ("disabled", "instrumented"),
    [
        (None, "django,psycopg,redis,requests"),
        ("psycopg, redis", "django,requests"),
        ("flask,requests", "django,psycopg,redis"),  # a name of another package is ignored
        ("*", ""),
    ],
)
def test_the_standard_variable_turns_instrumentations_off(tmp_path, disabled, instrumented):
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, as opentelemetry-instrument reads it."""
    env = {"OTEL_TRACES_EXPORTER": "jsonfile", "INTERLINK_TRACES_FILE": str(tmp_path / "s")}
    if disabled is not None:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = disabled
    assert _python(INSTRUMENTED_PROBE, **env).stdout.strip() == instrumented


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin' is not one of"),
        ({"OTEL_TRACES_EXPORTER": "jsonfile"}, "needs INTERLINK_TRACES_FILE"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(monkeypatch, env, message):
    """An unknown exporter, or the file exporter without its file, is a clear error."""
    monkeypatch.delenv("INTERLINK_TRACES_FILE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message):
        tracing_setup()


def test_capture_is_empty_outside_a_span():
    """Nothing to store when no span is current (tracing off in this process)."""
    assert capture() == {}


def test_the_provider_is_asked_for_the_tracer_once(spans, monkeypatch):
    """tracer() keeps what the installed provider gave (the SDK's get_tracer resets a warnings
    filter on every call); spans still reach that provider, and every test here installs a
    provider of its own, which gets a tracer of its own."""
    provider = trace.get_tracer_provider()
    asked = []

    def get_tracer(*args, **kwargs):
        asked.append(args)
        return type(provider).get_tracer(provider, *args, **kwargs)

    monkeypatch.setattr(provider, "get_tracer", get_tracer)
    for _ in range(3):
        with tracer().start_as_current_span("kept"):
            pass
    assert asked == [("django_interlink",)]
    assert len(spans.named("kept")) == 3
