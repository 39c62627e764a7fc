"""bench/bench_tracing.py measures something: with --check, one tiny turn of every workload on
the session's servers, its "on" worker must make spans and its "off" worker none (the script
exits non-zero otherwise), so the bench cannot print a ratio of two untraced runs. The consumer
workloads also run the two variants of "on" (sampled, lean)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from servers import Endpoint

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = ("saga", "rabbitmq", "rabbitmq_window", "redis", "redis_window")


@pytest.mark.rabbitmq
@pytest.mark.redis
def test_the_bench_on_mode_makes_spans_and_its_off_mode_none(
    postgres: Endpoint, rabbitmq: Endpoint, redis_server: Endpoint
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url,
        "RABBITMQ_URL": rabbitmq.url,
        "REDIS_URL": redis_server.url,
        "PYTHONPATH": os.pathsep.join([str(REPO / "django_app"), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "bench/bench_tracing.py", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pattern = r"(\w+): spans per \w+: \{'off': 0\.0, 'on': ([\d.]+)(, [^}]*)?\}"
    found = {workload: (float(on), rest) for workload, on, rest in re.findall(pattern, done.stdout)}
    assert sorted(found) == sorted(WORKLOADS)
    # more than none: a window is one batch span for all its events (so under one an event)
    assert min(on for on, _ in found.values()) > 0
    # the consumer's variants of on ran beside it (sampled, lean)
    for workload in WORKLOADS[1:]:
        assert "'sampled'" in found[workload][1] and "'lean'" in found[workload][1]
