"""HTTP clients of the four services.

base.ServiceClient (retries, Idempotency-Key, X-Request-ID, typed errors, timing logs),
contract (openapi-core validation against contracts/<service>.yaml), one typed client per service
(users, orders, payments, inventory), discovery (registry-resolved base URL), checks (E001-E019),
testing (settings pointing the clients at stubs). Import the module you need: this package
stays light because the app's system checks import it at start-up.
"""
