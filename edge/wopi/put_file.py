"""PutFile (rest/files/putfile), with the editors' variations.

- Locked file: X-WOPI-Lock must match, else 409 with the current lock.
- Unlocked file: allowed when it is empty (editnew, OnlyOffice templates). Editors that guard
  saves with timestamps instead of locks (Collabora; OnlyOffice sends the same X-LOOL-* headers)
  are checked against X-COOL-WOPI-Timestamp / X-LOOL-WOPI-Timestamp: a mismatch is 409 with
  {"COOLStatusCode": 1010}; without the header it is Collabora's "overwrite" retry.
  Anyone else gets 409 with an empty X-WOPI-Lock.
- Refused content is kept as a conflict copy; a body equal to the current content is not rewritten.
- The lock is checked again, atomically, when the write is recorded (it may change during a
  long upload); the bytes replace the file only after that.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from quart import Response, jsonify, request

from edge.control_client import Grant, WopiCaller
from edge.runtime import runtime
from edge.streaming import body_chunks
from edge.wopi.conflicts import keep_body_as_conflict_copy, keep_staged_as_conflict_copy
from edge.wopi.headers import editor_header, from_timestamp_editor, lock_header
from edge.wopi.recovery import keep_for_recovery
from edge.wopi.versions import item_version
from shared.errors import ControlPlaneUnavailable, FileNotFound, LockConflict, PayloadTooLarge, TimestampConflict
from shared.storage import FileStat, FsspecStorage, version_object_path
from shared.timefmt import iso_utc

log = logging.getLogger(__name__)


def _save_flags() -> str:
    flags = {name: editor_header(header) for name, header in (
        ("modified_by_user", "IsModifiedByUser"), ("autosave", "IsAutosave"), ("exit_save", "IsExitSave"))}
    return " ".join(f"{k}={v.lower()}" for k, v in flags.items() if v is not None)


async def _current(storage: FsspecStorage, path: str) -> FileStat | None:
    try:
        return await storage.stat(path)
    except FileNotFound:
        return None


def _check_unlocked_write(current: FileStat | None) -> None:
    """The rules for a save on an unlocked file; raises the conflict that refuses it."""
    if current is None or current.size == 0:
        return
    if from_timestamp_editor():
        seen = editor_header("Timestamp")
        if seen is not None and seen != iso_utc(current.modified):
            raise TimestampConflict(seen, iso_utc(current.modified))
        return
    raise LockConflict("", "the file is not locked and is not empty")


async def put_file(caller: WopiCaller) -> Response:
    rt = runtime()
    lock_id = lock_header(required=False)
    grant = await rt.control.authorize(caller, "PutFile", lock_id=lock_id)
    limit = grant.storage.max_file_size or rt.settings.max_file_size
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    storage = rt.storages.get(grant.storage)
    chunks = body_chunks(request.body, idle_timeout_s=rt.settings.upload_idle_timeout_s)
    current = await _current(storage, grant.path)
    try:
        if grant.lock_id:
            if lock_id != grant.lock_id:
                raise LockConflict(grant.lock_id, "the file is locked with another lock id")
        else:
            _check_unlocked_write(current)
    except (LockConflict, TimestampConflict) as conflict:
        await keep_body_as_conflict_copy(caller, grant, storage, chunks, limit=limit, reason=conflict.message)
        raise
    return await _write(caller, grant, storage, chunks, current, limit)


async def _write(caller: WopiCaller, grant: Grant, storage: FsspecStorage, chunks: AsyncIterator[bytes],
                 current: FileStat | None, limit: int) -> Response:
    rt = runtime()
    staged = await storage.stage(grant.path, chunks, limit=limit)
    try:
        # Same bytes as stored: nothing is rewritten and no version is kept, but the save is
        # recorded and answered like any other (editors expect a new X-WOPI-ItemVersion).
        unchanged = (current is not None and staged.result.sha256 == grant.sha256
                     and current.fingerprint == grant.fingerprint)
        kept_version = 0
        if current is not None and not unchanged and grant.storage.version_retention > 0:
            if await storage.keep_copy(grant.path, version_object_path(caller.file_id, grant.version)):
                kept_version = grant.version
        try:
            recorded = await rt.control.record_write(
                caller, size=staged.result.size, sha256=staged.result.sha256,
                fingerprint=current.fingerprint if unchanged and current else staged.fingerprint,
                expected_lock_id=grant.lock_id, kept_version=kept_version, kept_size=current.size if current else 0,
                editors=request.headers.get("X-WOPI-Editors", "")[:1000], save_flags=_save_flags(),
            )
        except LockConflict as conflict:
            # The lock changed during the upload: the bytes are kept, the file is not touched.
            if kept_version:
                await storage.delete(version_object_path(caller.file_id, kept_version), internal=True)
            await keep_staged_as_conflict_copy(caller, grant, storage, staged, reason=conflict.message)
            raise
        except ControlPlaneUnavailable as unavailable:
            # Not recorded: the file stays as it was, the bytes are kept, the editor hears 503.
            if kept_version:
                await storage.delete(version_object_path(caller.file_id, kept_version), internal=True)
            raise await keep_for_recovery(caller, grant, storage, staged, unavailable, target=grant.path) from None
        if not unchanged:
            await staged.publish(grant.path)
    finally:
        await staged.discard()
    for number in recorded.expired_versions:
        await storage.delete(version_object_path(caller.file_id, number), internal=True)
    return _saved(recorded.version, await storage.stat(grant.path))


def _saved(version: int, stat: FileStat) -> Response:
    # Collabora keeps LastModifiedTime for its next X-COOL-WOPI-Timestamp: same formatter as CheckFileInfo.
    response = jsonify({"LastModifiedTime": iso_utc(stat.modified)})
    response.headers["X-WOPI-ItemVersion"] = item_version(version, stat)
    return response

