"""RenameFile and DeleteFile (rest/files/renamefile, rest/files/deletefile).

Both follow the write protocol (control/services/write_intents.py): BeginWrite compares the
lock in the control plane's compare-and-set and records the intent, the edge changes storage,
CommitWrite confirms. The file id never changes: editors keep their WOPISrc across a rename.
"""

from __future__ import annotations

import posixpath

from quart import Response, jsonify

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.wopi.headers import lock_header, utf7_header
from edge.wopi.writes import commit_decided, storage_change
from shared import failpoints
from shared.errors import InvalidFileName
from edge.wopi.free_names import MAX_NAME_ATTEMPTS, free_name
from shared.storage import check_file_name, version_object_path
from shared.wopi_operation import WopiOperation

RENAME, DELETE = WopiOperation.RENAME_FILE, WopiOperation.DELETE_FILE


async def rename_file(caller: WopiCaller) -> Response:
    rt = runtime()
    lock_id = lock_header(required=False)
    grant = await rt.control.authorize(caller, RENAME, lock_id=lock_id)
    requested = utf7_header("X-WOPI-RequestedName")
    if requested is None:
        raise InvalidFileName("", "X-WOPI-RequestedName is missing")
    folder, current = posixpath.split(grant.path)
    extension = posixpath.splitext(current)[1]
    if not requested.strip():
        # "+" in UTF-7 decodes to "": the file would be named by its extension alone.
        raise InvalidFileName(requested, "empty")
    # The requested name comes without extension: the file keeps its own (spec: RenameFile).
    check_file_name(requested + extension)
    storage = rt.storages.get(grant.storage)
    stat = await storage.stat(grant.path)  # 404 for a file gone from storage
    if await storage.kind(posixpath.join(folder, requested + extension)) == "folder":
        raise InvalidFileName(requested, "a folder has this name")
    name = await free_name(storage, folder, requested + extension, own=current)
    if name is None:
        raise InvalidFileName(requested, f"it and its first {MAX_NAME_ATTEMPTS} numbered names are taken")
    new_path = posixpath.join(folder, name)
    # Even a rename to the same name is decided by the control plane (the lock must match).
    begun = await rt.control.begin_write(caller, RENAME, lock_id=lock_id, current=stat, target_path=new_path)
    failpoints.hit("rename.after_begin")
    if new_path != grant.path:
        async with storage_change(caller, RENAME, begun) as window:
            window.check()
            await storage.move(grant.path, new_path)
            failpoints.hit("rename.after_move")
    await commit_decided(caller, RENAME, begun)
    return jsonify({"Name": posixpath.splitext(name)[0]})


async def delete_file(caller: WopiCaller) -> Response:
    """The bytes move into the file's kept versions (unless the storage keeps none)."""
    rt = runtime()
    grant = await rt.control.authorize(caller, DELETE)
    storage = rt.storages.get(grant.storage)
    stat = await storage.stat(grant.path)
    begun = await rt.control.begin_write(caller, DELETE, current=stat)
    failpoints.hit("delete.after_begin")
    async with storage_change(caller, DELETE, begun) as window:
        window.check()
        if begun.keep_version:
            await storage.move(grant.path, version_object_path(caller.file_id, begun.keep_version),
                               internal_target=True)
        else:
            await storage.delete(grant.path)
        failpoints.hit("delete.after_move")
    committed = await commit_decided(caller, DELETE, begun)
    for number in committed.expired_versions if committed else ():  # else the control plane removes them
        await storage.delete(version_object_path(caller.file_id, number), internal=True)
    return Response("", status=200)
