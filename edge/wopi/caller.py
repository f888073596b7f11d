"""Who is calling: the access token (query first, as the spec prefers; Authorization as fallback),
the client address and a correlation id for the audit."""

from __future__ import annotations

import secrets

from quart import request

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.wopi.headers import editor_header, from_timestamp_editor
from edge.wopi.public_url import public_request_url
from shared.errors import AccessTokenInvalid

MAX_TOKEN_LENGTH = 4096


def current_caller(file_id: str) -> WopiCaller:
    token = request.args.get("access_token", "")
    if not token:
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise AccessTokenInvalid("missing or malformed access_token")
    correlation = (
        request.headers.get("X-WOPI-CorrelationId") or request.headers.get("X-Request-Id") or secrets.token_hex(8)
    )
    editor = request.headers.get("X-WOPI-RequestingApplication") or request.headers.get("User-Agent", "")
    return WopiCaller(access_token=token, file_id=file_id, client_address=request.remote_addr or "",
                      correlation_id=correlation[:128], editor=editor[:120],
                      proof=request.headers.get("X-WOPI-Proof", "")[:2048],
                      proof_old=request.headers.get("X-WOPI-ProofOld", "")[:2048],
                      proof_timestamp=request.headers.get("X-WOPI-TimeStamp", "")[:32],
                      url=public_request_url(runtime().settings),
                      editor_timestamp=editor_header("Timestamp"), timestamp_editor=from_timestamp_editor())
