"""Content a conflict refuses is never thrown away: it is kept beside the file as a copy.

The control plane decides whether a copy may be kept (the tenant's conflict-copy quota): the
bytes are staged, the copy is recorded (or refused with ConflictCopyQuotaExceeded, 507, and the
staged bytes dropped), and only then published under its name. A failure to publish after the
record leaves the quota charged for bytes that are not there: counted high, never low.

Each copy's name carries a random tag: the free-name check and the (replacing) publish are
separated by a control-plane call, so two refused saves of one user in the same second would
otherwise pick the same name and the second would replace the first."""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
import secrets

from edge.control_client import Grant, WopiCaller
from edge.runtime import runtime
from edge.wopi.free_names import free_name
from shared.errors import FileAlreadyExists
from shared.storage import FsspecStorage, StagedWrite
from shared.storage.names import with_suffix

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def conflict_copy_name(name: str, user_id: str, now: dt.datetime, *, tag: str) -> str:
    """'q1.docx' -> 'q1 (conflict 2026-11-22 100405 ann 3f9a2c1b).docx', like cs3's -webconflict- files."""
    user = _UNSAFE.sub("_", user_id)[:40] or "user"
    return with_suffix(name, f" (conflict {now:%Y-%m-%d %H%M%S} {user} {tag})")  # within 255 UTF-8 bytes


async def _free_copy_path(grant: Grant, storage: FsspecStorage) -> str:
    folder = posixpath.dirname(grant.path)
    base = conflict_copy_name(posixpath.basename(grant.path), grant.user_id, dt.datetime.now(dt.UTC),
                              tag=secrets.token_hex(4))  # 32 random bits: unique among one user's copies
    name = await free_name(storage, folder, base)
    if name is None:  # a storage that says every name is taken: the copy is not kept, and the save fails
        raise FileAlreadyExists(posixpath.join(folder, base))
    return posixpath.join(folder, name)


async def _record_and_publish(caller: WopiCaller, grant: Grant, storage: FsspecStorage, staged: StagedWrite,
                              reason: str) -> str:
    path = await _free_copy_path(grant, storage)
    await runtime().control.record_conflict_copy(caller, copy_path=path, size=staged.result.size, reason=reason)
    await staged.publish(path)
    log.warning("PutFile refused (%s): content kept at %s in tenant %s", reason, path, grant.tenant_id)
    return path


async def keep_staged_as_conflict_copy(caller: WopiCaller, grant: Grant, storage: FsspecStorage,
                                       staged: StagedWrite, *, reason: str) -> str:
    """Publishes an already staged body under a conflict-copy name instead of the file's."""
    return await _record_and_publish(caller, grant, storage, staged, reason)
