"""The garbage collector of a long-running server: what start-up built is frozen out of collections.

Why: once started, a process holds ~180,000 objects the collector tracks (SQLAlchemy's mappers
and statement caches, protobuf descriptors, pydantic and SQLModel classes, grpc, Quart), nearly
all of them for its whole life. CPython's full (generation 2) collection walks every one of them:
under a LOCK/UNLOCK load one ran every 1.5-2 s and held the GIL for 100-300 ms, stalling the
event loop and the writer thread at once. That was most of the lock operations' p99 (about 4x
their mean). gc.freeze() moves the objects alive at that point into the permanent generation,
which collections skip; whatever is allocated afterwards is collected exactly as before, so a
cycle made later is still freed. The frozen objects themselves are never collected: freeze once,
when start-up is done, not repeatedly.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collects once (start-up's own garbage is not kept forever), then freezes what is left.
    Returns the number of objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
