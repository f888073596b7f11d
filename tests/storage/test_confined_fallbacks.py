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
