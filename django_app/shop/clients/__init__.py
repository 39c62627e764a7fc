"""Typed clients of the shop's four services, each a `ServiceClient` named for its contract.

One method per OpenAPI operation (users, orders, payments, inventory); the transport, retries,
contract validation and typed errors come from `django_interlink.clients`.
"""
