"""CheckFileInfo, GetFile and PutFile (MS-WOPI 3.3.5.1.1, 3.3.5.3.1, 3.3.5.3.2)."""

from __future__ import annotations

import posixpath

from quart import Response, jsonify, request

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.streaming import body_chunks
from edge.wopi.versions import item_version
from shared.errors import FileTooLarge, InvalidArgument, PayloadTooLarge
from shared.timefmt import iso_utc

INT32_MAX = 2**31 - 1


async def check_file_info(caller: WopiCaller) -> Response:
    """https://learn.microsoft.com/microsoft-365/cloud-storage-partner-program/rest/files/checkfileinfo"""
    rt = runtime()
    grant = await rt.control.authorize(caller, "CheckFileInfo")
    stat = await rt.storages.get(grant.storage).stat(grant.path)
    name = posixpath.basename(grant.path)
    _, extension = posixpath.splitext(name)
    return jsonify({
        "BaseFileName": name,
        "FileExtension": extension,
        "OwnerId": grant.owner_id,
        "Size": stat.size,
        "UserId": grant.user_id,
        "UserFriendlyName": grant.user_name,
        "Version": item_version(grant.version, stat),
        "LastModifiedTime": iso_utc(stat.modified),
        "UserCanWrite": grant.can_write,
        "ReadOnly": not grant.can_write,
        "SupportsUpdate": True,
        "UserCanNotWriteRelative": True,
    })


def _max_expected_size() -> int:
    raw = request.headers.get("X-WOPI-MaxExpectedSize")
    if raw is None or raw == "":
        return INT32_MAX
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument("X-WOPI-MaxExpectedSize", "not an integer") from None
    if value < 0:
        raise InvalidArgument("X-WOPI-MaxExpectedSize", "negative")
    return value


async def get_file(caller: WopiCaller) -> Response:
    """https://learn.microsoft.com/microsoft-365/cloud-storage-partner-program/rest/files/getfile"""
    rt = runtime()
    limit = _max_expected_size()
    grant = await rt.control.authorize(caller, "GetFile")
    opened = await rt.storages.get(grant.storage).open_read(grant.path, chunk_size=rt.settings.chunk_size)
    if opened.stat.size > limit:
        await opened.chunks.aclose()  # type: ignore[attr-defined]
        raise FileTooLarge(opened.stat.size, limit)
    response = Response(opened.chunks, status=200, mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(opened.stat.size)
    response.headers["X-WOPI-ItemVersion"] = item_version(grant.version, opened.stat)
    # Quart's RESPONSE_TIMEOUT would cut a long download short with a 200 and no log line.
    response.timeout = None
    return response


async def put_file(caller: WopiCaller) -> Response:
    """https://learn.microsoft.com/microsoft-365/cloud-storage-partner-program/rest/files/putfile"""
    rt = runtime()
    grant = await rt.control.authorize(caller, "PutFile")
    limit = grant.storage.max_file_size or rt.settings.max_file_size
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(limit)
    storage = rt.storages.get(grant.storage)
    chunks = body_chunks(request.body, idle_timeout_s=rt.settings.upload_idle_timeout_s)
    written = await storage.write_atomic(grant.path, chunks, limit=limit)
    stat = await storage.stat(grant.path)
    version = await rt.control.record_write(caller, size=written.size, sha256=written.sha256)
    response = jsonify({"LastModifiedTime": iso_utc(stat.modified)})
    response.headers["X-WOPI-ItemVersion"] = item_version(version, stat)
    return response
