"""Retention: every table and stream the app writes is purged after a setting, so nothing grows
without bound (INTERLINK['RETENTION'], checked by retention.checks).

`retention_purge()` runs every purge once (`manage.py purge_expired`); `RetentionSchedule` runs
it from a long-running loop when due (`manage.py relay_outbox` does, every INTERVAL seconds).
"""
