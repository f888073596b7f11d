"""PutUserInfo (rest/files/putuserinfo): an opaque string per user, returned as UserInfo."""

from __future__ import annotations

import asyncio

from quart import Response, request

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.streaming import read_bounded
from shared.errors import InvalidArgument, UploadStalled
from shared.wopi_operation import WopiOperation

MAX_USER_INFO_BYTES = 1024
# A few KiB need no more than this, whoever sends them: the body is read before the token is
# checked (one call both authorizes and stores it), so a made-up token must not hold the connection.
BODY_DEADLINE_S = 15.0


async def put_user_info(caller: WopiCaller) -> Response:
    deadline = min(BODY_DEADLINE_S, runtime().settings.upload_idle_timeout_s)
    try:
        async with asyncio.timeout(deadline):
            body = await read_bounded(request.body, content_length=request.content_length,
                                      limit=MAX_USER_INFO_BYTES * 4, idle_timeout_s=deadline)
    except TimeoutError:
        raise UploadStalled(deadline) from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("body", "UserInfo must be UTF-8 text") from None
    if len(text) > MAX_USER_INFO_BYTES:
        raise InvalidArgument("body", f"UserInfo is limited to {MAX_USER_INFO_BYTES} characters")
    await runtime().control.authorize(caller, WopiOperation.PUT_USER_INFO, user_info=text)
    return Response("", status=200)
