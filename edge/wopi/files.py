"""CheckFileInfo and GetFile (rest/files/checkfileinfo, rest/files/getfile)."""

from __future__ import annotations

import base64
import posixpath

from quart import Response, jsonify

from edge.control_client import WopiCaller
from edge.reply_guard import on_reply_done
from edge.runtime import runtime
from edge.wopi.headers import int_header
from edge.wopi.versions import item_version
from shared.errors import FileTooLarge
from shared.storage.names import FILE_NAME_MAX_LENGTH
from shared.timefmt import iso_utc
from shared.wopi_operation import WopiOperation

INT32_MAX = 2**31 - 1


async def check_file_info(caller: WopiCaller) -> Response:
    """Advertises exactly what this edge implements, and the session's permission."""
    rt = runtime()
    grant = await rt.control.authorize(caller, WopiOperation.CHECK_FILE_INFO)
    stat = await rt.storages.get(grant.storage).stat(grant.path)
    name = posixpath.basename(grant.path)
    info: dict[str, object] = {
        "BaseFileName": name,
        "FileExtension": posixpath.splitext(name)[1],
        "OwnerId": grant.owner_id,
        "Size": stat.size,
        "UserId": grant.user_id,
        "UserFriendlyName": grant.user_name,
        "Version": item_version(grant.version, stat),
        "LastModifiedTime": iso_utc(stat.modified),
        "UserCanWrite": grant.can_write,
        "ReadOnly": not grant.can_write,
        "UserCanRename": grant.can_write,
        "UserCanNotWriteRelative": not grant.can_write,
        "SupportsUpdate": True,
        "SupportsLocks": True,
        "SupportsGetLock": True,
        "SupportsExtendedLockLength": True,
        "SupportsRename": True,
        "SupportsDeleteFile": True,
        "SupportsUserInfo": True,
        "FileNameMaxLength": FILE_NAME_MAX_LENGTH,
        "IsAnonymousUser": False,
    }
    if grant.user_info:
        info["UserInfo"] = grant.user_info
    if grant.post_message_origin:
        info["PostMessageOrigin"] = grant.post_message_origin
    # SHA256 only when cheap: the hash recorded at our last write, if the bytes are still those.
    if grant.sha256 and grant.fingerprint == stat.fingerprint:
        info["SHA256"] = base64.b64encode(bytes.fromhex(grant.sha256)).decode()
    return jsonify(info)


async def get_file(caller: WopiCaller) -> Response:
    """Streams the bytes; X-WOPI-MaxExpectedSize larger than the file is 412 (rest/files/getfile)."""
    rt = runtime()
    expected = int_header("X-WOPI-MaxExpectedSize")
    limit = INT32_MAX if expected is None else expected
    grant = await rt.control.authorize(caller, WopiOperation.GET_FILE)
    # Past its caps 429/503 before the file is opened; the slot is held until the reply is over.
    on_reply_done(rt.downloads.take(caller.token_digest, grant.tenant_id))
    opened = await rt.storages.get(grant.storage).open_read(grant.path, chunk_size=rt.settings.chunk_size)
    if opened.stat.size > limit:
        await opened.chunks.aclose()  # type: ignore[attr-defined]
        raise FileTooLarge(opened.stat.size, limit)
    # A file read whole at open (at most one chunk) is answered as bytes: one body message, no
    # iterator hand-offs; a larger one is streamed chunk by chunk.
    body = opened.chunks if opened.whole is None else opened.whole
    response = Response(body, status=200, mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(opened.stat.size)
    response.headers["X-WOPI-ItemVersion"] = item_version(grant.version, opened.stat)
    # Quart's RESPONSE_TIMEOUT would cut a long download short with a 200 and no log line.
    response.timeout = None
    return response
