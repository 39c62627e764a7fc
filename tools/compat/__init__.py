"""The contracts' compatibility gate: `python -m tools.compat --base REF` (`make contracts-compat`).

Compares every OpenAPI document and every event schema under contracts/ at a git ref with the
working tree and reports each change that would break a consumer written against the ref.
rules.py lists what is detected; schema.py compares two JSON Schemas, documents.py the
operations and the event types, report.py writes the findings for people and as JUnit XML.
consumers.py names the pact interactions each finding breaks (`--mode consumers`); refs.py reads
the contracts at a git ref.
"""
