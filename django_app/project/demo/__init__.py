"""`python -m project.demo` (`make demo`): the clients, the order saga and the events, on stubs.

Runs on embedded defaults: SQLite in a temp dir, the four stub services on free local ports in
this process, a random bearer token, the in-memory event bus, Django's locmem mail backend.
`--stack real` (`make demo STACK=real`) plays the same scenes on PostgreSQL and RabbitMQ with
the relay, the consumer and the saga workers as manage.py processes (stacks.py).
Each scene is a small function; in the client scenes every service call prints one line
(service, operation, request id, status, duration), the saga scenes print their step log
instead. A scene checks its invariants with `demo.check(...)`: one that fails makes the run
exit 1. Each scene runs in a span of its own (traces.py); the recorder keeps its calls and
events as its trace's spans show them, its trace, checks and saga timelines, and the run ends
by writing one self-contained HTML report (report/) and printing its path.
Add a scene by writing `def my_scene(demo: Demo) -> None` in the scenes module of its
topic (its set-up calls inside `with demo.aside():`, which the report greys), appending
`Scene("title", my_scene, about="my-scene")` to SCENES in `__main__.py`, and writing what
fails, what the system does and what the picture shows in `docs/scenes/my-scene.md`, which
`docs/failures.md` includes in the scene's section and the report shows in its own.
"""
