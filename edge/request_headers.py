"""Request headers that answer a missing name without raising inside.

werkzeug's Headers.get and `in` look a name up through __getitem__, which builds a
BadRequestKeyError (an HTTPException, about 3 µs) for a name that is not there, then catch it.
A WOPI request asks for ten or so headers it does not carry (proof keys, editor headers,
X-WOPI-Override, lock headers, Transfer-Encoding): a few percent of the edge's CPU per request.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import Headers


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
