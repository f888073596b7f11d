"""shared.storage.confined covers the local calls' usual paths, but the fall-backs still act by path,
following whatever symlinks are there by then: keep_copy's copy where a hard link fails (EPERM: a
filesystem without hard links, fs.protected_hardlinks for files a tenant's sync client owns; EXDEV:
a versions folder on another mount). A sub-folder flipped between full_path()'s check and the copy
lands a file from outside the root in the kept versions, which the tenant can then read back."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from shared.errors import PathOutsideRoot
from shared.storage import FsspecStorage
from shared.storage.paths import version_object_path


async def test_keep_copy_where_hard_links_fail_never_copies_a_file_from_outside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = tmp_path / "data-dir"
    outside.mkdir()
    (outside / "doc.docx").write_bytes(b"the operator's secret")
    root = tmp_path / "tenant" / "docs"
    (root / "real").mkdir(parents=True)
    (root / "real" / "doc.docx").write_bytes(b"decoy")
    (root / "sub").symlink_to(root / "real")
    storage = FsspecStorage("file", str(root), {}, egress=None, real_root=os.path.realpath(root))

    real_link = os.link

    def link_refused(*args: object, **kwargs: object) -> None:
        # The tenant's flip lands after the checks; this filesystem refuses hard links.
        os.unlink(root / "sub")
        os.symlink(outside, root / "sub")
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", link_refused)
    copy_path = version_object_path("f1", 1)
    (root / ".wopi-versions" / "f1").mkdir(parents=True)
    try:
        kept = await storage.keep_copy("sub/doc.docx", copy_path)
    except (PathOutsideRoot, OSError):
        return  # refused: sound
    finally:
        monkeypatch.setattr(os, "link", real_link)
    assert not kept or (root / copy_path).read_bytes() != b"the operator's secret", \
        "keep_copy copied a file from outside the storage root into the tenant's kept versions"


async def test_keep_copy_where_hard_links_fail_copies_a_file_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "doc.docx").write_bytes(b"current bytes")
    storage = FsspecStorage("file", str(root), {}, egress=None, real_root=os.path.realpath(root))

    def link_refused(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "hard links not allowed here")

    monkeypatch.setattr(os, "link", link_refused)
    assert await storage.keep_copy("doc.docx", version_object_path("f1", 1)) is True
    assert (root / version_object_path("f1", 1)).read_bytes() == b"current bytes"


def _replace_across_mounts(monkeypatch: pytest.MonkeyPatch, flip: object = None) -> None:
    """os.replace answers EXDEV once (the target lies below a mount point), after `flip` ran."""
    real_replace = os.replace
    calls = {"n": 0}

    def replace(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            if callable(flip):
                flip()
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)


async def test_a_move_across_mounts_never_writes_through_a_folder_re_pointed_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = tmp_path / "data-dir"
    outside.mkdir()
    (outside / "admin.key").write_bytes(b"the operator's secret")
    root = tmp_path / "tenant" / "docs"
    (root / "mount").mkdir(parents=True)
    (root / "doc.docx").write_bytes(b"attacker")
    storage = FsspecStorage("file", str(root), {}, egress=None, real_root=os.path.realpath(root))

    def flip() -> None:  # the tenant's flip lands after the checks
        os.rmdir(root / "mount")
        os.symlink(outside, root / "mount")

    _replace_across_mounts(monkeypatch, flip)
    with pytest.raises((PathOutsideRoot, OSError)):
        await storage.move("doc.docx", "mount/admin.key")
    assert (outside / "admin.key").read_bytes() == b"the operator's secret"
    assert sorted(p.name for p in outside.iterdir()) == ["admin.key"]


async def test_a_move_across_mounts_still_moves_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "docs"
    (root / "mount").mkdir(parents=True)
    (root / "doc.docx").write_bytes(b"moved")
    storage = FsspecStorage("file", str(root), {}, egress=None, real_root=os.path.realpath(root))
    _replace_across_mounts(monkeypatch)

    await storage.move("doc.docx", "mount/doc.docx")

    assert (root / "mount" / "doc.docx").read_bytes() == b"moved"
    assert not (root / "doc.docx").exists()
    assert [p.name for p in (root / "mount").iterdir()] == ["doc.docx"]
