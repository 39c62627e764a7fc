"""A long-running worker's startup heap, moved out of the garbage collector's way.

What a worker allocates before its loop (Django, the apps' modules, the handlers, the bus and
its connections) lives as long as the process, yet CPython's collector walks all of it on each
full pass. Those passes come more often when containers survive a while before they become
garbage, and spans are such objects: they wait in the batch processor's queue until exported.
With tracing on, a consumer would so pay a pass over its whole heap every few thousand
messages. `gc.freeze()` moves what exists now into a generation the collector ignores (the
standard library's advice for servers that fork, used here for one process): its full passes
then walk only what was allocated since.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect what is garbage now, then freeze the rest; how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
