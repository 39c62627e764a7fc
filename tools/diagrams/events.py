"""The road of an event: the producer's transaction, the outbox, the relay, the bus, the
consumer, and where each outcome of a delivery leads (handled once, retried, dead-lettered).
"""

from __future__ import annotations

from .svg import Drawing, Style

YOURS = Style(fill="#e8f6f3", stroke="#148f77")
STEP = Style(fill="#eaf2fb", stroke="#2e6da4")
TABLE = Style(fill="#f4ecf7", stroke="#7d3c98")
BAD = Style(fill="#fde8e8", stroke="#c0392b")

A, B, C = 150.0, 480.0, 810.0


def events_svg() -> str:
    d = Drawing(
        "events", "An event's road: outbox, relay, bus, consumer, inbox, dead letters", 960, 570
    )
    d.box(
        "producer",
        A,
        70,
        ["your transaction", "state change + outbox_enqueue()"],
        style=YOURS,
        min_width=250,
    )
    d.box(
        "outbox", B, 70, ["outbox table", "pending rows, in id order"], style=TABLE, min_width=230
    )
    d.box(
        "relay",
        C,
        70,
        ["outbox_relay()", "SKIP LOCKED batch,", "broker confirms awaited"],
        style=STEP,
        min_width=230,
    )
    d.box(
        "bus", C, 220, ["the bus", "RabbitMQ · Redis Streams · memory"], style=STEP, min_width=250
    )
    d.box(
        "retry",
        B,
        220,
        ["retried later", "TTL queue · XCLAIM, after backoff"],
        style=STEP,
        min_width=230,
    )
    d.box(
        "consumer",
        C,
        380,
        ["Dispatcher", "decode · validate · run handlers"],
        style=STEP,
        min_width=250,
    )
    d.box(
        "inbox",
        B,
        380,
        ["inbox transaction", "the handler's writes +", "(event_id, handler) row"],
        style=TABLE,
        min_width=230,
    )
    d.box(
        "dead",
        C,
        520,
        ["dead letters", "<group>.dead · <prefix>:dead:<group>"],
        style=BAD,
        min_width=250,
    )
    d.arrow("producer", "outbox", label="one commit")
    d.arrow("outbox", "relay")
    d.arrow("relay", "bus", label="publish, then mark sent")
    d.arrow("bus", "consumer", label="at least once")
    d.arrow("consumer", "inbox", label="each handler once")
    d.arrow("consumer", "retry", dashed=True, label="any other error", label_at=0.5)
    d.arrow("retry", "bus", label="comes back")
    d.arrow("consumer", "dead", dashed=True, label="permanent, contract broken or MAX_DELIVERIES")
    d.note(30, 470, "A crash after the broker's confirm and")
    d.note(30, 490, "before the commit publishes the row again:")
    d.note(30, 510, "the inbox row makes the copy a no-op.")
    return d.render(source="tools/diagrams/events.py")
