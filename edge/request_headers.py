"""The current request's headers by lower-case name, read once per request.

Why: werkzeug's Headers.get raises and catches an exception for every absent header, and a WOPI
request asks for a dozen headers that are mostly absent (proof keys, Collabora's and OnlyOffice's
save headers, forwarding headers). As with Headers.get, the first of repeated headers wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from quart import request

_ATTRIBUTE = "_wopi_proxy_headers"


def headers() -> Mapping[str, str]:
    found: dict[str, str] | None = getattr(request, _ATTRIBUTE, None)
    if found is None:
        found = {}
        for name, value in request.headers.items():
            found.setdefault(name.lower(), value)
        setattr(request, _ATTRIBUTE, found)
    return found


def header(name: str, default: str = "") -> str:
    """The header's value, `default` when absent."""
    return headers().get(name.lower(), default)


def optional_header(name: str) -> str | None:
    """The header's value, None when absent (present and empty is "")."""
    return headers().get(name.lower())
