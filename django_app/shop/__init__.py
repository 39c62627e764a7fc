"""The example shop: what a project builds on the `django_interlink` app.

Typed clients of the four services, the profiles and statistics its event handlers keep, and the
order-processing saga. Nothing in `django_interlink` imports from here; settings name these modules
(`INTERLINK['EVENT_BUS']['HANDLER_MODULES']`, `INTERLINK['SAGA']['DEFINITIONS']`).
"""
