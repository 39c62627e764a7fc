"""The playground (`make playground`): a page to place orders, break the stubs and watch sagas.

Demo tooling, not part of the reusable app: the launcher runs the stubs, the Django server
(with the outbox relay and the event consumer as threads) and a separate saga worker process.
"""
