"""Faults below HTTP for the saga suites: worker settings, a registry the test rewrites, the
traffic a run is made of, the figures it measures, and the checks after it."""
