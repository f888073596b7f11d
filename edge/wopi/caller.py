"""Who is calling: the access token (query first, as the spec prefers; Authorization as fallback),
the client address and a correlation id for the audit."""

from __future__ import annotations

from quart import g, request

from edge.control_client import WopiCaller
from edge.request_headers import header
from edge.observability import request_id
from edge.runtime import runtime
from edge.wopi.flood import token_digest
from edge.wopi.headers import editor_header, from_timestamp_editor
from edge.wopi.public_url import public_request_url
from shared.errors import AccessTokenInvalid

MAX_TOKEN_LENGTH = 4096


def request_token() -> str:
    """The access token as sent ("" when none); never logged. Read once per request."""
    token: str | None = g.get("access_token")
    if token is None:
        token = request.args.get("access_token", "")
        if not token:
            authorization = header("Authorization")
            if authorization.lower().startswith("bearer "):
                token = authorization[7:].strip()
        g.access_token = token
    return token


def request_token_digest() -> str:
    """SHA-256 (hex) of the request's token, "" when none: what the flood limiter and the tenant
    hints key on, so that neither keeps a token. Computed once per request."""
    digest: str | None = g.get("access_token_digest")
    if digest is None:
        token = request_token()
        digest = g.access_token_digest = token_digest(token) if token else ""
    return digest


def checkable(token: str) -> bool:
    """False for what is refused without asking the control plane."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH


def client_address() -> str:
    """The peer address; behind a trusted proxy, the rightmost X-Forwarded-For hop (the one the
    proxy itself added: hops further left are whatever the client wrote)."""
    if runtime().settings.trust_forwarded_headers:
        hops = [h.strip() for h in header("X-Forwarded-For").split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.remote_addr or ""


def current_caller(file_id: str) -> WopiCaller:
    token = request_token()
    if not checkable(token):
        raise AccessTokenInvalid("missing or malformed access_token")
    correlation = request_id()  # the access log's request_id too
    editor = header("X-WOPI-RequestingApplication") or header("User-Agent")
    return WopiCaller(access_token=token, token_digest=request_token_digest(), file_id=file_id,
                      client_address=client_address(),
                      correlation_id=correlation[:128], editor=editor[:120],
                      proof=header("X-WOPI-Proof")[:2048],
                      proof_old=header("X-WOPI-ProofOld")[:2048],
                      proof_timestamp=header("X-WOPI-TimeStamp")[:32],
                      url=public_request_url(runtime().settings),
                      editor_timestamp=editor_header("Timestamp"), timestamp_editor=from_timestamp_editor())
