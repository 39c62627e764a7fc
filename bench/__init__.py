"""Benchmarks: one script per measured question (`make bench`)."""
