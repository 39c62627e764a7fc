"""The parts of the project and how they talk: the one architecture diagram (README and docs).

Laid out by hand on a grid, so it stays free of crossing lines: the HTTP contracts above the
clients and the stubs they describe, the event contracts beside the events package, the servers
next to the package that uses each.
"""

from __future__ import annotations

from .svg import Drawing, Style

APP = Style(fill="#eaf2fb", stroke="#2e6da4")
SHOP = Style(fill="#e8f6f3", stroke="#148f77")
CONTRACT = Style(fill="#fef9e7", stroke="#b7950b")
STUB = Style(fill="#fdf2e9", stroke="#ca6f1e", bold_first=False)
SERVER = Style(fill="#f4ecf7", stroke="#7d3c98", rounded=14)

# Columns: servers and event contracts, sagas and events, clients and registry, the stubs.
A, B, C, D = 110.0, 370.0, 620.0, 935.0
ROW1, ROW2 = 305.0, 470.0


def architecture_svg() -> str:
    d = Drawing(
        "architecture", "The parts: contracts, the Django app, the stubs, the servers", 1080, 690
    )
    d.cluster(
        "http-contracts",
        590,
        16,
        470,
        92,
        "contracts/ (the source of truth): HTTP",
        fill="#fffdf5",
        stroke="#d4ac0d",
    )
    d.box(
        "openapi",
        825,
        68,
        [
            "OpenAPI 3.1",
            "users · orders · payments · inventory",
            "shop.yaml: the Django orders API",
        ],
        style=CONTRACT,
    )
    d.cluster(
        "event-contracts", 16, 402, 190, 136, "contracts/events/", fill="#fffdf5", stroke="#d4ac0d"
    )
    d.box(
        "asyncapi",
        A,
        478,
        ["AsyncAPI 3.0", "+ JSON Schema", "per event type"],
        style=CONTRACT,
        min_width=160,
    )

    d.cluster("django", 236, 120, 520, 466, "Django 5.2: django_app/ and packages/")
    d.box(
        "shop",
        495,
        168,
        ["shop/ (the example)", "typed clients · handlers", "order saga · orders API"],
        style=SHOP,
        min_width=230,
    )
    d.cluster(
        "app",
        250,
        240,
        492,
        332,
        "django_interlink/ (the reusable app, a package of its own)",
        fill="#f4f8fc",
        stroke="#85a9cf",
    )
    d.box(
        "sagas",
        B,
        ROW1,
        ["sagas/", "definition · transition()", "runner · store · leases"],
        style=APP,
        min_width=210,
    )
    d.box(
        "clients",
        C,
        ROW1,
        ["clients/", "retries · Idempotency-Key", "X-Request-ID · contracts"],
        style=APP,
        min_width=210,
    )
    d.box(
        "events",
        B,
        ROW2,
        ["events/", "outbox · relay · inbox", "RabbitMQ · Redis Streams"],
        style=APP,
        min_width=210,
    )
    d.box(
        "registry",
        C,
        ROW2,
        ["registry/", "static · Consul", "last-known-good"],
        style=APP,
        min_width=210,
    )

    d.cluster(
        "stubs",
        815,
        232,
        245,
        150,
        "mock_services/ (FastAPI stubs)",
        fill="#fffaf5",
        stroke="#e59866",
    )
    for i, name in enumerate(["users", "orders", "payments", "inventory"]):
        d.box(name, 878 + (i % 2) * 118, 287 + (i // 2) * 46, [name], style=STUB, width=106)

    d.box(
        "postgres", A, ROW1, ["PostgreSQL", "sagas · outbox · inbox"], style=SERVER, min_width=170
    )
    d.box("broker", B, 640, ["RabbitMQ / Redis"], style=SERVER, min_width=170)
    d.box("consul", D, ROW2, ["Consul"], style=SERVER, min_width=150)

    d.arrow("shop", "app", label="builds on")
    d.arrow("sagas", "events", label="step events")
    d.arrow("clients", "registry", label="where to")
    d.arrow("sagas", "postgres")
    d.arrow("events", "broker")
    d.arrow("registry", "consul")
    d.arrow("clients", "stubs", label="HTTP + bearer")
    d.arrow("openapi", "clients", dashed=True, label="validates", label_at=0.55)
    d.arrow("openapi", "stubs", dashed=True, label="schemathesis + drift", label_at=0.6)
    d.arrow("asyncapi", "events", dashed=True, label="validates")
    d.note(
        250,
        672,
        "Imports point down and inward: sagas may use events and clients, "
        "events may use clients, clients the registry; never the other way.",
    )
    return d.render(source="tools/diagrams/architecture.py")
