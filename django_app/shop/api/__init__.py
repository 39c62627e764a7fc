"""The orders API: accept an order request, hand it to a `resume_sagas` worker, let the client
follow it (contracts/shop.yaml). Views are thin; the logic is in services.py."""
