"""RenameFile and DeleteFile (rest/files/renamefile, rest/files/deletefile).

Both change storage first and then record the change with a compare-and-set on the lock;
if the lock moved meanwhile, the storage change is undone and the answer is 409. The file
id never changes: editors keep their WOPISrc across a rename.
"""

from __future__ import annotations

import posixpath

from quart import Response, jsonify

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.wopi.headers import lock_header, utf7_header
from shared.errors import InvalidFileName, LockConflict, WopiProxyError
from shared.storage import check_file_name, numbered, version_object_path


async def rename_file(caller: WopiCaller) -> Response:
    rt = runtime()
    lock_id = lock_header(required=False)
    grant = await rt.control.authorize(caller, "RenameFile", lock_id=lock_id)
    if grant.lock_id and grant.lock_id != lock_id:
        raise LockConflict(grant.lock_id, "the file is locked with another lock id")
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
    await storage.stat(grant.path)  # 404 for a file gone from storage
    if await storage.kind(posixpath.join(folder, requested + extension)) == "folder":
        raise InvalidFileName(requested, "a folder has this name")
    name, n = requested + extension, 2
    while name != current and await storage.kind(posixpath.join(folder, name)) is not None:
        name, n = numbered(requested + extension, n), n + 1
    new_path = posixpath.join(folder, name)
    if new_path != grant.path:
        await storage.move(grant.path, new_path)
        try:
            await rt.control.record_rename(caller, lock_id=lock_id, new_path=new_path)
        except WopiProxyError:
            await storage.move(new_path, grant.path)
            raise
    return jsonify({"Name": posixpath.splitext(name)[0]})


async def delete_file(caller: WopiCaller) -> Response:
    """The bytes move into the file's kept versions (unless the storage keeps none)."""
    rt = runtime()
    grant = await rt.control.authorize(caller, "DeleteFile")
    if grant.lock_id:
        raise LockConflict(grant.lock_id, "the file is locked")
    storage = rt.storages.get(grant.storage)
    stat = await storage.stat(grant.path)
    keep = grant.storage.version_retention > 0
    kept_at = version_object_path(caller.file_id, grant.version)
    if keep:
        await storage.move(grant.path, kept_at, internal_target=True)
    try:
        expired = await rt.control.record_delete(caller, kept_version=grant.version if keep else 0,
                                                 kept_size=stat.size)
    except WopiProxyError:
        if keep:
            await storage.move(kept_at, grant.path, internal_source=True)
        raise
    if not keep:
        await storage.delete(grant.path)
    for number in expired:
        await storage.delete(version_object_path(caller.file_id, number), internal=True)
    return Response("", status=200)
