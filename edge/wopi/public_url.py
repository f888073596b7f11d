"""The absolute URL of a request as the editor called it: what X-WOPI-Proof signs.

Behind a reverse proxy the edge sees another scheme, host or path (owncloud/ocis#10462), so the
operator either configures the public base URL or lets the edge trust X-Forwarded-* headers.
"""

from __future__ import annotations

from quart import request

from edge.request_headers import header
from edge.settings import EdgeSettings


def _path_and_query() -> str:
    raw = request.scope.get("raw_path") or request.path.encode()
    query = request.scope.get("query_string") or b""
    text = raw.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


def public_request_url(settings: EdgeSettings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/") + _path_and_query()
    if settings.trust_forwarded_headers:
        proto = header("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
        host = header("X-Forwarded-Host", request.host).split(",")[0].strip()
        prefix = header("X-Forwarded-Prefix").rstrip("/")
        return f"{proto}://{host}{prefix}{_path_and_query()}"
    return f"{request.scheme}://{request.host}{_path_and_query()}"
