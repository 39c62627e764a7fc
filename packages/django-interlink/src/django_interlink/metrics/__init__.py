"""Metrics for Prometheus (and OTLP when configured): see docs/observability.md.

`instruments` counts what this process does (imported by the events, sagas and clients code);
`state` reads the database and the broker at scrape time; `exposition` serves both.
"""
