"""Mechanisms for an HTTP API served by Django: problem+json errors, bearer tokens,
Idempotency-Key records in the database, and validation against the API's own contract."""
