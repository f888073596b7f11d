"""PutUserInfo (rest/files/putuserinfo): an opaque string per user, returned as UserInfo."""

from __future__ import annotations

from quart import Response, request

from edge.control_client import WopiCaller
from edge.runtime import runtime
from shared.errors import InvalidArgument, PayloadTooLarge
from shared.wopi_operation import WopiOperation

MAX_USER_INFO_BYTES = 1024


async def put_user_info(caller: WopiCaller) -> Response:
    if (request.content_length or 0) > MAX_USER_INFO_BYTES * 4:
        raise PayloadTooLarge(MAX_USER_INFO_BYTES)
    body = b""
    async for chunk in request.body:
        body += chunk
        if len(body) > MAX_USER_INFO_BYTES * 4:
            raise PayloadTooLarge(MAX_USER_INFO_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("body", "UserInfo must be UTF-8 text") from None
    if len(text) > MAX_USER_INFO_BYTES:
        raise InvalidArgument("body", f"UserInfo is limited to {MAX_USER_INFO_BYTES} characters")
    await runtime().control.authorize(caller, WopiOperation.PUT_USER_INFO, user_info=text)
    return Response("", status=200)
