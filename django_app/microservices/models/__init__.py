"""Models of the app, one module per concept; imported here so Django registers them."""
