"""HTTP clients of services described by OpenAPI contracts: mechanisms, no particular service.

The typed clients of the example's four services live in `shop/clients/`, each a subclass of
`base.ServiceClient`. One idea per module:

    transport   how a call travels: retry policy, Retry-After cap, POST retried only with an
                Idempotency-Key, transport failures as typed errors
    responses   what the answer becomes: parsed body, or the typed error for its status
    openapi     openapi-core set up once per contract (compiled validators, cached path finder)
    contract    validating a call against contracts/<service>.yaml, both ways
    endpoint    where a call goes: the Endpoint strategy a client holds; StaticEndpoint
    base        ServiceClient: the one road every call takes (transport, responses, contract,
                endpoint)
    discovery   RegistryFailover: the registry-backed Endpoint, failing over between instances
    factory     build_client()/client_for(): the typed client with the configured endpoint
    checks      system checks interlink.E001-E019 of INTERLINK['SERVICES']
    testing     settings pointing the clients at stub services

Layers, highest first; a module imports only from layers below it, and modules sharing a layer
(separated by "|") do not import each other:

    factory | checks | testing
    base | discovery
    contract | endpoint
    openapi | responses | transport

This file imports nothing: the app's system checks import the package at start-up.
"""
