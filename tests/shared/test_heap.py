"""shared.heap: start-up's objects frozen out of the collector's full collections (they made
100-300 ms GIL pauses every 1-2 s under load), without keeping later garbage forever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shared.heap import freeze_startup_objects


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def frozen() -> Iterator[int]:
    count = freeze_startup_objects()
    yield count
    gc.unfreeze()


def test_what_exists_at_the_freeze_leaves_the_collected_generations(frozen: int) -> None:
    assert frozen > 0
    assert len(gc.get_objects(generation=2)) < gc.get_freeze_count()  # a full collection walks only those


def test_a_cycle_made_after_the_freeze_is_still_collected(frozen: int) -> None:
    node = _Node()
    gone = weakref.ref(node)
    del node

    gc.collect()

    assert gone() is None
