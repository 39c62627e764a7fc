"""Mechanisms for an HTTP API served by Django: problem+json errors, bearer tokens,
Idempotency-Key records in the database (expiring), a per-token rate limit, body limits, and
validation against the API's own contract."""
