"""StorageInstances: storages reused, at most `size` of them, the least recently used dropped first."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.storage import FsspecStorage
from shared.storage.instances import StorageInstances


def test_an_instance_is_made_once_and_reused(tmp_path: Path) -> None:
    made: list[str] = []
    instances = StorageInstances(size=2)

    def make() -> FsspecStorage:
        made.append("x")
        return FsspecStorage("file", str(tmp_path), egress=None)

    assert instances.get("a", make) is instances.get("a", make)
    assert made == ["x"]


def test_past_its_size_the_least_recently_used_is_dropped(tmp_path: Path) -> None:
    instances = StorageInstances(size=2)
    first = instances.get("a", lambda: FsspecStorage("file", str(tmp_path), egress=None))
    instances.get("b", lambda: FsspecStorage("file", str(tmp_path), egress=None))
    instances.get("a", lambda: pytest.fail("a was dropped while recently used"))
    instances.get("c", lambda: FsspecStorage("file", str(tmp_path), egress=None))
    assert len(instances) == 2
    assert instances.get("a", lambda: pytest.fail("a dropped")) is first
    remade = instances.get("b", lambda: FsspecStorage("file", str(tmp_path / "b"), egress=None))
    assert remade.root.endswith("/b")  # b was the least recently used: made again


def test_storages_are_never_kept_in_fsspecs_unbounded_cache(tmp_path: Path) -> None:
    one = FsspecStorage("file", str(tmp_path), egress=None)
    two = FsspecStorage("file", str(tmp_path), egress=None)
    assert one.fs is not two.fs
