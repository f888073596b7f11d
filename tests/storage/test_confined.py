"""Local storage never leaves the root the policy checked (shared.storage.confined), even when a
symlink in the tenant's folder is re-pointed after a path was checked (review h, H1/M2/M3): the
flip is simulated deterministically by pointing the symlink outside once the storage exists, and,
below the root, by switching off full_path's own check (as if the flip happened right after it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.errors import PathOutsideRoot, StorageUnreachable
from shared.storage import FsspecStorage
from shared.storage import fsspec_storage
from shared.storage.paths import STAGING_FOLDER


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """(the tenant's real root, a folder outside it holding a secret)."""
    root, outside = tmp_path / "tenant" / "real", tmp_path / "data"
    root.mkdir(parents=True)
    outside.mkdir()
    (outside / "admin.key").write_bytes(b"operator secret")
    (root / "admin.key").write_bytes(b"decoy")
    return root, outside


def _flipped_root(tmp_path: Path, root: Path, outside: Path) -> FsspecStorage:
    """A storage whose root the policy resolved to `root`, then re-pointed outside by the tenant."""
    link = tmp_path / "tenant" / "docs"
    link.symlink_to(outside)
    return FsspecStorage("file", str(link), egress=None, real_root=str(root))


async def test_a_root_re_pointed_outside_after_the_check_reads_nothing_there(tmp_path: Path, places) -> None:
    storage = _flipped_root(tmp_path, *places)
    with pytest.raises(PathOutsideRoot):
        await storage.open_read("admin.key")
    with pytest.raises(PathOutsideRoot):
        await storage.stat("admin.key")


async def test_a_root_re_pointed_outside_after_the_check_is_never_written_to(tmp_path: Path, places) -> None:
    root, outside = places
    storage = _flipped_root(tmp_path, root, outside)
    with pytest.raises(PathOutsideRoot):
        await storage.write_atomic("admin.key", _body(b"attacker"), limit=1 << 20)
    assert (outside / "admin.key").read_bytes() == b"operator secret"
    assert not (outside / STAGING_FOLDER).exists() or not any((outside / STAGING_FOLDER).iterdir())


@pytest.fixture
def check_missed(monkeypatch: pytest.MonkeyPatch) -> None:
    """full_path's symlink check sees no symlink: the flip happens right after it."""
    monkeypatch.setattr(fsspec_storage, "_symlink_below", lambda root, relative: False)


async def test_a_folder_re_pointed_outside_after_the_check_is_neither_read_nor_written(
        places, check_missed: None) -> None:
    root, outside = places
    (root / "sub").symlink_to(outside)
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    with pytest.raises(PathOutsideRoot):
        await storage.open_read("sub/admin.key")
    staged = await storage.stage("doc.docx", _body(b"attacker"), limit=1 << 20)
    with pytest.raises(PathOutsideRoot):
        await staged.publish("sub/admin.key")
    await staged.discard()
    with pytest.raises(PathOutsideRoot):
        await storage.move("admin.key", "sub/moved.key")
    assert sorted(p.name for p in outside.iterdir()) == ["admin.key"]
    assert (outside / "admin.key").read_bytes() == b"operator secret"


async def test_a_folder_re_pointed_outside_is_never_linked_into_versions_or_deleted(
        places, check_missed: None) -> None:
    root, outside = places
    (root / "sub").symlink_to(outside)
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    with pytest.raises(PathOutsideRoot):
        await storage.keep_copy("sub/admin.key", ".wopi-versions/f/1")
    await storage.delete("sub/admin.key")  # refused quietly, as a failed removal is
    assert (outside / "admin.key").read_bytes() == b"operator secret"


async def test_a_staging_folder_that_is_a_symlink_outside_receives_no_bytes(places) -> None:
    root, outside = places
    (root / STAGING_FOLDER).symlink_to(outside)
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    with pytest.raises(PathOutsideRoot):
        await storage.stage("doc.docx", _body(b"x" * 4096), limit=1 << 20)
    assert sorted(p.name for p in outside.iterdir()) == ["admin.key"]


async def test_a_fifo_put_in_place_of_a_staged_object_fails_the_publish_instead_of_hanging(places) -> None:
    root, _ = places
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    staged = await storage.stage("doc.docx", _body(b"new"), limit=1 << 20)
    os.unlink(staged.temp_path)
    os.mkfifo(staged.temp_path)
    with pytest.raises((StorageUnreachable, OSError)):
        await staged.publish("doc.docx")
    assert (root / "doc.docx").exists() is False


async def test_missing_folders_are_never_made_through_a_folder_re_pointed_outside(
        places, check_missed: None) -> None:
    """A save into new/deeper/doc.docx makes the missing folders; with `sub` re-pointed outside,
    none may appear in the folder it points to."""
    root, outside = places
    (root / "sub").symlink_to(outside)
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    staged = await storage.stage("doc.docx", _body(b"attacker"), limit=1 << 20)
    with pytest.raises(PathOutsideRoot):
        await staged.publish("sub/new/deeper/doc.docx")
    await staged.discard()
    assert sorted(p.name for p in outside.iterdir()) == ["admin.key"]


async def test_missing_folders_inside_the_root_are_made(places) -> None:
    root, _ = places
    (root / "inside").mkdir()
    (root / "alias").symlink_to(root / "inside")  # a symlink that stays inside works as before
    storage = FsspecStorage("file", str(root), egress=None, real_root=str(root))
    staged = await storage.stage("doc.docx", _body(b"kept"), limit=1 << 20)
    await staged.publish("alias/new/deeper/doc.docx")
    assert (root / "inside" / "new" / "deeper" / "doc.docx").read_bytes() == b"kept"
