"""What a standby that lags costs when the primary dies: acknowledged commits lost with
asynchronous replication, none with synchronous replication (whose commits wait instead).

On one host the WAL stream reaches the standby before a stop lands, so the standby's WAL
receiver is held (SIGSTOP) while rows are committed: the lag of a slow network or a busy
standby, made real. Then the primary is stopped hard, the receiver let go and the standby
promoted. The counts go to reports/cluster/postgres_lag_<mode>.json.
"""

from __future__ import annotations

import secrets
import threading
import time

import psycopg
import pytest

from integration_tests.standby_run import write_figures
from servers.waiting import wait_until

pytestmark = pytest.mark.slow

ROW_BYTES = 4096  # random: TOAST would compress a repeated filler to almost no WAL
LAG_ROWS = 5000  # about 20 MB of WAL: more than the sockets between the two servers hold
HOLD_SECONDS = 3.0  # how long a synchronous writer is left waiting on its first commit


class LaggingWriter(threading.Thread):
    """Commits LAG_ROWS rows to `url`, one per transaction, until done or an error; records
    the ids whose COMMIT returned."""

    def __init__(self, url: str) -> None:
        super().__init__(name="lagging-writer", daemon=True)
        self.url = url
        self.acknowledged: list[int] = []

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                for n in range(LAG_ROWS):
                    row = (n, secrets.token_hex(ROW_BYTES // 2))
                    conn.execute("INSERT INTO acknowledged (id, filler) VALUES (%s, %s)", row)
                    self.acknowledged.append(n)
        except psycopg.Error:
            return  # the primary went away under a commit: that one was never acknowledged


@pytest.mark.parametrize(
    "postgres_standby", [False, True], ids=["asynchronous", "synchronous"], indirect=True
)
def test_commits_acknowledged_while_the_standby_lags_are_lost_only_without_sync(postgres_standby):
    """Asynchronous: all 5000 commits return and the rows the standby never received are gone
    after the promotion. Synchronous: no commit returns while the standby lags, none is lost."""
    pair = postgres_standby
    if not pair.owned or pair.hold_receiver is None:
        pytest.skip("the pair comes from DATABASE_CLUSTER_URL: not ours to stop or promote")
    with psycopg.connect(pair.primary_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE acknowledged (id integer PRIMARY KEY, filler text)")
    wait_until(pair.replay_caught_up, timeout=30, what="the standby to replay the table")
    pair.hold_receiver(True)
    held_since = time.monotonic()
    writer = LaggingWriter(pair.primary_url)
    try:
        writer.start()
        # Asynchronous: until every row is acknowledged. Synchronous: the first commit waits
        # for the held standby, so nothing has returned after HOLD_SECONDS (nor would it after
        # any wait: the commit cannot return until the receiver is let go).
        writer.join(HOLD_SECONDS if pair.synchronous else 120)
        pair.stop_primary_hard()
    finally:
        pair.hold_receiver(False)
    held = time.monotonic() - held_since
    pair.promote_standby()
    writer.join(30)
    with psycopg.connect(pair.url, autocommit=True) as conn:
        present = {row[0] for row in conn.execute("SELECT id FROM acknowledged")}
    lost = sorted(set(writer.acknowledged) - present)
    mode = "synchronous" if pair.synchronous else "asynchronous"
    write_figures(
        f"lag_{mode}",
        {
            "synchronous": pair.synchronous,
            "receiver_held_s": round(held, 2),
            "row_bytes": ROW_BYTES,
            "commits_acknowledged_while_held": len(writer.acknowledged),
            "acknowledged_rows_lost": len(lost),
            "acknowledged_rows_kept": len(writer.acknowledged) - len(lost),
        },
    )
    if pair.synchronous:
        assert (writer.acknowledged, lost) == ([], [])
    else:
        assert len(writer.acknowledged) == LAG_ROWS
        assert lost != []
