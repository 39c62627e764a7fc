"""The order flow choreographed beside the orchestrated saga (order_processing.py): the same
calls, made by participants that react to events (participants.py) instead of by one engine.
docs/choreography.md compares the two."""
