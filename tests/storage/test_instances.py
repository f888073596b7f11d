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


def test_a_storage_whose_settings_change_replaces_its_instance(tmp_path: Path) -> None:
    instances = StorageInstances(size=8)
    old = instances.get(("file", "v1"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=7)
    new = instances.get(("file", "v2"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=7)
    assert new is not old and len(instances) == 1
    again = instances.get(("file", "v1"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=7)
    assert again is not old, "the replaced instance was dropped, not kept beside"


def test_one_storage_changing_settings_again_and_again_never_pushes_out_anothers(tmp_path: Path) -> None:
    """Attack: a tenant key updates its storage's options in a loop (each a new key), after
    each a request: each used to add an instance, until the other tenants' were dropped."""
    instances = StorageInstances(size=2)
    theirs = instances.get(("file", "theirs"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=1)
    for n in range(50):
        instances.get(("file", f"mine-{n}"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=2)
    assert instances.get(("file", "theirs"), lambda: pytest.fail("theirs was dropped"), owner=1) is theirs
    assert len(instances) == 2


def test_two_storages_of_the_same_settings_share_an_instance_and_each_may_move_on(tmp_path: Path) -> None:
    instances = StorageInstances(size=8)
    shared = instances.get(("file", "same"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=1)
    assert instances.get(("file", "same"), lambda: pytest.fail("made twice"), owner=2) is shared
    instances.get(("file", "other"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=2)
    instances.get(("file", "elsewhere"), lambda: FsspecStorage("file", str(tmp_path), egress=None), owner=1)
    assert len(instances) == 2
