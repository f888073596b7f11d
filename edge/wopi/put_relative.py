"""PutRelativeFile (rest/files/putrelativefile): save as a new file beside the current one.

Suggested mode (X-WOPI-SuggestedTarget): the host picks a legal, unused name, keeping the
extension; a value starting with '.' is only an extension for the current name.
Relative mode (X-WOPI-RelativeTarget): exactly that name, or 400/409 with a name that would
work in X-WOPI-ValidRelativeTarget. Names are UTF-7 in headers and UTF-8 in answers.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from urllib.parse import quote

from quart import Response, jsonify, request

from edge.control_client import Grant, WopiCaller
from edge.runtime import runtime
from edge.streaming import body_chunks
from edge.wopi.headers import bool_header, int_header, utf7_header
from edge.wopi.recovery import keep_for_recovery
from edge.wopi.writes import storage_change
from shared import failpoints
from shared.errors import (
    AccessTokenInvalid,
    ControlPlaneUnavailable,
    FileAlreadyExists,
    FileNotFound,
    InvalidArgument,
    InvalidFileName,
    LockConflict,
    PayloadTooLarge,
    RelativeTargetRefused,
    WriteInProgress,
)
from edge.wopi.free_names import MAX_NAME_ATTEMPTS, free_name
from shared.storage import FsspecStorage, check_file_name, sanitize_file_name, version_object_path
from shared.wopi_operation import WopiOperation

RELATIVE = WopiOperation.PUT_RELATIVE_FILE

MAX_TAKEN_NAMES = 10  # suggested names taken by other saves while this one's body arrived


async def _free_name(storage: FsspecStorage, folder: str, name: str, taken: Collection[str] = ()) -> str:
    found = await free_name(storage, folder, name, taken=taken)
    if found is None:
        raise RelativeTargetRefused(409, f"no free name found among {MAX_NAME_ATTEMPTS} numbered ones")
    return found


async def _suggested_name(grant: Grant, storage: FsspecStorage, folder: str, suggested: str) -> str:
    current = posixpath.basename(grant.path)
    # Collabora may send a path ("/path/to/name.pdf"): only the name counts.
    suggested = suggested.replace("\\", "/").rsplit("/", 1)[-1]
    if suggested.startswith(".") and "." not in suggested[1:] and len(suggested) > 1:
        suggested = posixpath.splitext(current)[0] + suggested
    name = sanitize_file_name(suggested, fallback=posixpath.splitext(current)[0] or "document")
    try:
        check_file_name(name)
    except InvalidFileName:
        # Never a name relative mode and RenameFile refuse (sanitize_file_name should not give one).
        name = "document"
    return await _free_name(storage, folder, name)


async def put_relative_file(caller: WopiCaller) -> Response:
    rt = runtime()
    grant = await rt.control.authorize(caller, RELATIVE)
    suggested = utf7_header("X-WOPI-SuggestedTarget")
    relative = utf7_header("X-WOPI-RelativeTarget")
    if (suggested is None) == (relative is None):
        raise InvalidArgument("X-WOPI-SuggestedTarget", "send exactly one of X-WOPI-SuggestedTarget and "
                                                        "X-WOPI-RelativeTarget")
    overwrite = bool_header("X-WOPI-OverwriteRelativeTarget")
    limit = grant.storage.max_file_size or rt.settings.max_file_size
    declared = int_header("X-WOPI-Size")
    if (declared or 0) > limit or (request.content_length or 0) > limit:
        raise PayloadTooLarge(limit)
    storage = rt.storages.get(grant.storage)
    folder = posixpath.dirname(grant.path)

    if suggested is not None:
        name = await _suggested_name(grant, storage, folder, suggested)
    else:
        assert relative is not None
        try:
            name = check_file_name(relative)
        except InvalidFileName as error:
            valid = await _free_name(storage, folder, sanitize_file_name(relative))
            raise RelativeTargetRefused(400, error.message, valid_target=valid) from None
        if await storage.kind(posixpath.join(folder, name)) == "folder":
            # Never overwritable, whatever X-WOPI-OverwriteRelativeTarget says.
            valid = await _free_name(storage, folder, name)
            raise RelativeTargetRefused(409, f"{name!r} is a folder", valid_target=valid)
        try:
            await storage.stat(posixpath.join(folder, name))
            exists = True
        except FileNotFound:
            exists = False
        if exists and not overwrite:
            valid = await _free_name(storage, folder, name)
            raise RelativeTargetRefused(409, f"{name!r} exists", valid_target=valid)
    target = posixpath.join(folder, name)

    chunks = body_chunks(request.body, idle_timeout_s=rt.settings.upload_idle_timeout_s)
    # What holds the name is looked at again once the body is in: another save may have taken it
    # meanwhile, and a save that may not overwrite must not replace it.
    with rt.uploads.slot(caller.token_digest, grant.tenant_id):  # past its caps: 429/503 before a byte of the body is read
        staged = await storage.stage(target, chunks, limit=limit, stat_target=True)
    try:
        current, taken = staged.target, set[str]()
        while True:
            try:
                if current is not None and not overwrite:
                    raise FileAlreadyExists(target)
                begun = await rt.control.begin_write(caller, RELATIVE, current=current, staged=staged,
                                                     target_path=target, overwrite=overwrite)
                break
            except LockConflict as conflict:
                valid = await _free_name(storage, folder, name, {name})
                raise RelativeTargetRefused(409, conflict.message, valid_target=valid,
                                            current_lock=conflict.current_lock) from None
            except (FileAlreadyExists, WriteInProgress) as refusal:
                if suggested is None:  # relative mode: exactly that name, or a 409 naming one that works
                    if isinstance(refusal, WriteInProgress):
                        raise
                    valid = await _free_name(storage, folder, name, {name})
                    raise RelativeTargetRefused(409, f"{name!r} exists", valid_target=valid) from None
                # Suggested mode: the host picks an unused name, whatever took this one.
                taken.add(name)
                if len(taken) > MAX_TAKEN_NAMES:
                    raise RelativeTargetRefused(409, "no free name found") from None
                name = await _free_name(storage, folder, name, taken)
                target, current = posixpath.join(folder, name), None
            except ControlPlaneUnavailable as unavailable:
                raise await keep_for_recovery(caller, grant, storage, staged, unavailable, target=target) from None
        failpoints.hit("putrelative.after_begin")
        async with storage_change(caller, RELATIVE, begun) as window:
            if begun.keep_version:
                await storage.keep_copy(target, version_object_path(begun.file_id, begun.keep_version))
            window.check()
            await staged.publish(target)
            failpoints.hit("putrelative.after_publish")
    finally:
        await staged.discard()
    stat = await storage.stat(target)
    created = await rt.control.commit_write(caller, RELATIVE, intent_id=begun.intent_id, fingerprint=stat.fingerprint)
    for number in created.expired_versions:
        await storage.delete(version_object_path(begun.file_id, number), internal=True)
    if not created.access_token:  # the session ended while the body arrived: the file is kept, no new token
        raise AccessTokenInvalid("the session ended while the file was saved; the new file is kept")
    # The Url carries a token valid for the new file (rest/files/putrelativefile, "Url").
    reply = {"Name": name, "Url": f"{created.wopi_src}?access_token={quote(created.access_token)}"}
    if created.host_view_url:
        reply["HostViewUrl"] = created.host_view_url
    if created.host_edit_url:
        reply["HostEditUrl"] = created.host_edit_url
    return jsonify(reply)

