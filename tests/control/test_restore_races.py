"""RestoreFileVersion racing a rename of the same file (review j, F3): the restore read the path before
its compare-and-set, published at the old path and moved the file back, leaving its latest bytes under
the new name, unkept; it also registered a kept version whose object was never made."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from control.db.models import Storage
from control.services import files, wopi_access, wopi_changes
from control.services.context import Principal, ServiceContext
from control.services.sessions import OpenedSession
from control.services.wopi_changes import Staged, Stored, WriteRequest
from shared.errors import WopiProxyError
from shared.wopi_operation import WopiOperation
from tests.control.helpers import TENANT, OpenSession, caller


async def save(ctx: ServiceContext, opened: OpenedSession, root: Path, content: bytes) -> int:
    """A PutFile as the edge does it on a local storage: begin, keep the current bytes, publish, commit."""
    path = root / opened.session.row.path
    old = path.read_bytes()
    begun = await wopi_changes.begin(ctx, caller(opened), WriteRequest(
        operation=WopiOperation.PUT_FILE, lock_id="L1", current=Stored(exists=True, size=len(old)),
        staged=Staged(size=len(content), sha256=hashlib.sha256(content).hexdigest())))
    if begun.keep_version:
        kept = root / ".wopi-versions" / begun.file_id / str(begun.keep_version)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(old)
    path.write_bytes(content)
    return (await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)).version


async def rename(ctx: ServiceContext, opened: OpenedSession, root: Path, new_path: str) -> None:
    """A RenameFile as the edge does it: begin, move in storage, commit."""
    begun = await wopi_changes.begin(ctx, caller(opened), WriteRequest(
        operation=WopiOperation.RENAME_FILE, target_path=new_path))
    os.rename(root / opened.session.row.path, root / new_path)
    await wopi_changes.commit(ctx, caller(opened), intent_id=begun.intent_id)


@pytest.mark.parametrize("when", ["before_the_stat", "after_the_stat"])
async def test_a_restore_racing_a_rename_loses_neither_the_current_bytes_nor_a_version_object(
    ctx: ServiceContext, admin: Principal, open_session: OpenSession, docs: Storage, storage_root: Path,
    monkeypatch: pytest.MonkeyPatch, when: str,
) -> None:
    opened = await open_session(path="doc.docx")
    file_id = opened.session.row.file_id
    await wopi_access.authorize(ctx, caller(opened), operation="Lock", lock_id="L1")
    await save(ctx, opened, storage_root, b"v2 content")          # v1 kept
    await save(ctx, opened, storage_root, b"v3 the user's latest")  # v2 kept
    await wopi_access.authorize(ctx, caller(opened), operation="Unlock", lock_id="L1")

    # A rename commits while the restore runs: before it looks at the current bytes, or just after.
    hooked = "_stat_or_none" if when == "before_the_stat" else "_begin_restore"
    original = getattr(files, hooked)
    done = []

    async def racing(*args: object, **kwargs: object) -> object:
        if not done:
            done.append(True)
            await rename(ctx, opened, storage_root, "renamed.docx")
        return await original(*args, **kwargs)

    monkeypatch.setattr(files, hooked, racing)
    try:
        view = await files.restore_version(ctx, admin, tenant_id=TENANT, file_id=file_id, version=1)
    except WopiProxyError:
        return  # refused (the file moved meanwhile): sound
    monkeypatch.undo()

    # The restore went through: the user's latest bytes must still be the file's or a kept version's.
    versions, _ = await files.list_versions(ctx, admin, tenant_id=TENANT, file_id=file_id, page_size=100,
                                            page_token="")
    kept = {v.version: storage_root / ".wopi-versions" / file_id / str(v.version) for v in versions}
    missing = [n for n, p in kept.items() if not p.exists()]
    assert not missing, f"versions {missing} are listed as kept, their objects do not exist"
    holders = [p for p in [storage_root / view.file.path, *kept.values()]
               if p.exists() and p.read_bytes() == b"v3 the user's latest"]
    assert holders, (f"after the restore the file is {view.file.path!r} (version {view.file.version}); the user's "
                     f"latest bytes are only at the unregistered 'renamed.docx' (kept versions: {sorted(kept)})")
