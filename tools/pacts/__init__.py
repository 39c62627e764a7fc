"""Consumer-driven contracts: the shop's pacts, their verification, and the bi-directional check.

`python -m tools.pacts write` writes contracts/pacts/ from the real clients and event code;
`verify` replays them against the stubs and the real event publisher; `check` validates every
interaction against the provider's OpenAPI or AsyncAPI document.
"""

import os

# Pact's core reports usage over the network unless told not to (and the network is closed).
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
