"""Sagas: a definition is data (definition.py), the engine a small state machine over it.

Layers, highest first; a module imports only from layers below its own (`|`: independent):

    admin | checks
    services | retention | selectors
                                  saga_execute, saga_resume, ...: the only entry points;
                                  finished sagas purged after RETENTION['SAGAS']; how a
                                  saga reads to a person (position, attempt states)
    runner                        one saga to its end: attempts, retries, time budget, waits
    store | heartbeat             lease-guarded writes, one atomic move per step; the lease
                                  kept while a step runs, its calls stopped once it is lost
    store_postgres                that move as one PostgreSQL statement
    registry | mermaid | timeline | waiting | masking | spans
                                  (spans: the run, step and compensation spans of a saga)
    graph                         every state transition() reaches, and the edges between them
    state | crash                 transition() (pure); crash points behind a hook
    definition | outcomes         steps, retry policy, step context: data only; what a
                                  step's call did (APPLIED, ABSENT, UNKNOWN)

Below them all: django_interlink.models, .conf, .exceptions, .backoff, .call_guards, .crash,
.events.outbox.
"""
