"""Reading request headers cheaply.

werkzeug's Headers.get and `in` look a name up through __getitem__, which builds a
BadRequestKeyError (an HTTPException, about 3 µs) for a name that is not there, then catch it.
A WOPI request asks for ten or so headers it does not carry (proof keys, Collabora's and
OnlyOffice's save headers, X-WOPI-Override, lock and forwarding headers, Transfer-Encoding): a few
percent of the edge's CPU per request. Two remedies: every request's headers are QuietHeaders (a
missing name is answered without an exception, for any code that reads request.headers), and the
WOPI handlers read them through header()/optional_header(), a dict by lower-case name made once per
request. As with Headers.get, the first of repeated headers wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import request
from werkzeug.datastructures import Headers

_ATTRIBUTE = "_wopi_proxy_headers"


class QuietHeaders(Headers):
    """Headers whose get() and `in` scan for a name and answer a missing one at once."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]  # noqa: A002
        if not isinstance(key, str):
            return super().get(key, default, type)
        lowered = key.lower()
        for name, value in self._list:
            if name.lower() == lowered:
                break
        else:
            return default
        if type is None:
            return value
        try:  # as werkzeug's get: a value the conversion refuses is the default
            return type(value)
        except ValueError:
            return default

    def __contains__(self, key: Any) -> bool:
        if not isinstance(key, str):
            return super().__contains__(key)
        lowered = key.lower()
        for name, _ in self._list:
            if name.lower() == lowered:
                return True
        return False


def make_quiet(headers: Headers) -> Headers:
    """The same object, answering misses quietly (Quart builds a plain Headers for each request)."""
    if type(headers) is Headers:
        headers.__class__ = QuietHeaders
    return headers


def headers() -> Mapping[str, str]:
    """The current request's headers by lower-case name (made once per request)."""
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
