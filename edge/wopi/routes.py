"""Routing of /wopi/files/{file_id}: one table from X-WOPI-Override to handler.

Anything not in the tables (GET_SHARE_URL included: no share URL types are advertised)
answers 501, as the spec asks of unsupported operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from quart import Blueprint, Response

from edge.control_client import WopiCaller
from edge.request_headers import header
from edge.wopi import files, locks, put_file, put_relative, rename_delete, user_info
from edge.runtime import runtime
from edge.wopi.caller import checkable, client_address, current_caller, request_token, request_token_digest
from edge.wopi.errors import domain_error_response
from shared.errors import AccessTokenInvalid, FileNotFound, TooManyInvalidTokens, UnsupportedOperation

Handler = Callable[[WopiCaller], Awaitable[Response]]

# POST /wopi/files/{id}/contents, by X-WOPI-Override.
CONTENTS_OVERRIDES: dict[str, Handler] = {
    "PUT": put_file.put_file,  # rest/files/putfile
}

# POST /wopi/files/{id}, by X-WOPI-Override.
FILE_OVERRIDES: dict[str, Handler] = {
    "LOCK": locks.lock,  # rest/files/lock; with X-WOPI-OldLock: rest/files/unlockandrelock
    "GET_LOCK": locks.get_lock,  # rest/files/getlock
    "REFRESH_LOCK": locks.refresh_lock,  # rest/files/refreshlock
    "UNLOCK": locks.unlock,  # rest/files/unlock
    "PUT_RELATIVE": put_relative.put_relative_file,  # rest/files/putrelativefile
    "RENAME_FILE": rename_delete.rename_file,  # rest/files/renamefile
    "DELETE": rename_delete.delete_file,  # rest/files/deletefile
    "PUT_USER_INFO": user_info.put_user_info,  # rest/files/putuserinfo
}

MAX_FILE_ID_LENGTH = 64

blueprint = Blueprint("wopi", __name__, url_prefix="/wopi/files")


@blueprint.before_request
async def _limit_invalid_tokens() -> None:
    """An address past its invalid-token limit is refused here, before any control-plane call."""
    retry_after = runtime().flood.retry_after(client_address(), request_token_digest())
    if retry_after is not None:
        raise TooManyInvalidTokens(retry_after)


@blueprint.errorhandler(AccessTokenInvalid)
async def _token_refused(error: AccessTokenInvalid) -> Response:
    runtime().flood.refused(client_address(), request_token_digest(), checked_by_control=checkable(request_token()))
    return await domain_error_response(error)


@blueprint.after_request
async def _remember_granted_token(response: Response) -> Response:
    # Every 2xx of these routes follows a grant of the control plane (each handler authorizes first).
    if 200 <= response.status_code < 300:
        runtime().flood.granted(request_token_digest())
    # No cache between editor and edge keeps a reply: they carry file bytes, user names, UserInfo
    # and, from PutRelativeFile, a new access token.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _override(table: dict[str, Handler]) -> Handler:
    name = header("X-WOPI-Override").strip().upper()
    handler = table.get(name)
    if handler is None:
        raise UnsupportedOperation(name[:64] or "(no X-WOPI-Override)")
    return handler


def _caller(file_id: str) -> WopiCaller:
    if len(file_id) > MAX_FILE_ID_LENGTH:
        raise FileNotFound(file_id[:MAX_FILE_ID_LENGTH])
    return current_caller(file_id)


@blueprint.get("/<file_id>")
async def check_file_info(file_id: str) -> Response:
    return await files.check_file_info(_caller(file_id))


@blueprint.get("/<file_id>/contents")
async def get_file(file_id: str) -> Response:
    return await files.get_file(_caller(file_id))


@blueprint.post("/<file_id>/contents")
async def post_contents(file_id: str) -> Response:
    handler = _override(CONTENTS_OVERRIDES)
    return await handler(_caller(file_id))


@blueprint.post("/<file_id>")
async def post_file(file_id: str) -> Response:
    handler = _override(FILE_OVERRIDES)
    return await handler(_caller(file_id))
