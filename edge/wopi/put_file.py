"""PutFile (rest/files/putfile), with the editors' variations.

The body is staged first; then the control plane decides (BeginWrite, control/services/
wopi_changes.py: the lock, the unlocked-file rules and the editor's X-COOL-/X-LOOL-WOPI-Timestamp,
all in its compare-and-set) and records a write intent; the bytes replace the file only after
that, and CommitWrite confirms (the write protocol: control/services/write_intents.py).
- Refused content is kept as a conflict copy; a body equal to the current content is not rewritten.
"""

from __future__ import annotations

import logging

from quart import Response, jsonify, request
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.control_client import Grant, WopiCaller
from edge.runtime import runtime
from edge.streaming import body_chunks
from edge.wopi.conflicts import keep_staged_as_conflict_copy
from edge.wopi.headers import editor_header, lock_header
from edge.wopi.recovery import keep_for_recovery
from edge.wopi.versions import item_version
from edge.wopi.writes import commit_decided, storage_change
from shared import failpoints
from shared.errors import (
    ControlPlaneUnavailable, FileMoved, FileNotFound, LockConflict, PayloadTooLarge, TimestampConflict,
)
from shared.storage import FileStat, FsspecStorage, StagedWrite, version_object_path
from shared.timefmt import iso_utc
from shared.wopi_operation import WopiOperation

log = logging.getLogger(__name__)
PUT = WopiOperation.PUT_FILE
MAX_MOVES = 3  # renamed this often during one save: answered "busy" (423), the bytes kept as a copy


def _save_flags() -> str:
    """Collabora's save headers as the audit records them: booleans, or left out."""
    flags = {name: (editor_header(header) or "").strip().lower() for name, header in (
        ("modified_by_user", "IsModifiedByUser"), ("autosave", "IsAutosave"), ("exit_save", "IsExitSave"))}
    return " ".join(f"{k}={v}" for k, v in flags.items() if v in ("true", "false"))


async def put_file(caller: WopiCaller) -> Response:
    rt = runtime()
    lock_id = lock_header(required=False)
    grant = await rt.control.authorize(caller, PUT, lock_id=lock_id)
    limit = grant.storage.max_file_size or rt.settings.max_file_size
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    storage = rt.storages.get(grant.storage)
    chunks = body_chunks(request.body, idle_timeout_s=rt.settings.upload_idle_timeout_s)
    # An unchanged save (the recorded bytes) is not written: BeginWrite records it, nothing is published.
    recorded = (grant.sha256, grant.fingerprint) if grant.sha256 and grant.fingerprint else None
    with rt.uploads.slot(caller.token_digest, grant.tenant_id):  # past its caps: 429/503 before a byte of the body is read
        staged = await storage.stage(grant.path, chunks, limit=limit, stat_target=True, recorded=recorded)
    try:
        failpoints.hit("putfile.after_stage")
        return await _write(caller, grant, storage, staged, lock_id)
    finally:
        await staged.discard()


async def _begin(caller: WopiCaller, grant: Grant, storage: FsspecStorage, staged: StagedWrite,
                 lock_id: str) -> tuple[edge_pb.BeginWriteResponse, str, FileStat | None]:
    """BeginWrite for the path the grant named, or for where the file went when it was renamed
    while the body arrived (FileMoved): the intent, the path to publish at and what is there."""
    path, current = grant.path, staged.target  # what the file held once the bytes were staged
    for _ in range(MAX_MOVES):
        try:
            begun = await runtime().control.begin_write(
                caller, PUT, lock_id=lock_id, current=current, staged=staged, target_path=path,
                editors=request.headers.get("X-WOPI-Editors", "")[:1000], save_flags=_save_flags())
            return begun, path, current
        except FileMoved as moved:
            log.info("file %s was renamed to %s during a save: the save goes there", caller.file_id, moved.path)
            path = moved.path
            try:
                current = await storage.stat(path)
            except FileNotFound:
                current = None
    raise FileMoved(caller.file_id, path)


async def _write(caller: WopiCaller, grant: Grant, storage: FsspecStorage, staged: StagedWrite,
                 lock_id: str) -> Response:
    """The lock (and the editor's timestamp) is compared by BeginWrite, once the bytes are staged."""
    try:
        begun, path, current = await _begin(caller, grant, storage, staged, lock_id)
    except (LockConflict, TimestampConflict, FileMoved) as conflict:
        # Refused content is never lost: it becomes a copy beside the file.
        copy_path = await keep_staged_as_conflict_copy(caller, grant, storage, staged, reason=conflict.message)
        if isinstance(conflict, LockConflict):
            conflict.copy_path = copy_path  # told to the writer (the bridge reports it to the operator)
        raise
    except ControlPlaneUnavailable as unavailable:
        # Not recorded: the file stays as it was, the bytes are kept, the editor hears 503.
        raise await keep_for_recovery(caller, grant, storage, staged, unavailable, target=grant.path) from None
    failpoints.hit("putfile.after_begin")
    if begun.step == edge_pb.WRITE_STEP_DONE:  # the same bytes as stored: nothing to publish
        assert current is not None
        return _saved(begun.version, current)
    async with storage_change(caller, PUT, begun) as window:
        if begun.keep_version:
            await storage.keep_copy(path, version_object_path(caller.file_id, begun.keep_version))
            failpoints.hit("putfile.after_keep")
        window.check()
        stat = await staged.publish(path)  # what the file holds now (stat() of it)
        failpoints.hit("putfile.after_publish")
    committed = await commit_decided(caller, PUT, begun, fingerprint=stat.fingerprint)
    if committed is None:  # confirmed from storage later, as version + 1
        return _saved(begun.version + 1, stat)
    failpoints.hit("putfile.after_commit")
    for number in committed.expired_versions:
        await storage.delete(version_object_path(caller.file_id, number), internal=True)
    return _saved(committed.version, stat)


def _saved(version: int, stat: FileStat) -> Response:
    # Collabora keeps LastModifiedTime for its next X-COOL-WOPI-Timestamp: same formatter as CheckFileInfo.
    response = jsonify({"LastModifiedTime": iso_utc(stat.modified)})
    response.headers["X-WOPI-ItemVersion"] = item_version(version, stat)
    return response
