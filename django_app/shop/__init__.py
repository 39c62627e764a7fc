"""The example shop: what a project builds on the `microservices` app.

Typed clients of the four services, the profiles and statistics its event handlers keep, and the
order-processing saga. Nothing in `microservices` imports from here; settings name these modules
(`MICROSERVICES['EVENT_BUS']['HANDLER_MODULES']`, `MICROSERVICES['SAGA']['DEFINITIONS']`).
"""
