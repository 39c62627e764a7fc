"""The shop's four clients as consumers: one module of `Case`s per provider."""
