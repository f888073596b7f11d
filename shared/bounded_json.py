"""JSON from a server a tenant runs (its bridged app), parsed only when it holds few values.

The bytes are capped already (shared/bounded_body), but parsed JSON costs per value, not per byte:
40 MiB of `[{},{},...]` became ~1.6 GiB of dicts and took seconds of the event loop every tenant
shares. What apps answer legitimately is a document in one string and a few fields (an Etherpad
attribute pool is a few values per author and style), so the values are counted first, in C:
strings are set aside (their bytes cost once, whatever they hold), then every value but the first
follows a comma or opens a container."""

from __future__ import annotations

import json
from typing import Any

MAX_VALUES = 200_000


class TooManyValues(ValueError):
    """A ValueError, as json's own errors are: callers treat it as an answer that is not JSON."""


def loads(raw: bytes, *, max_values: int = MAX_VALUES, **json_options: Any) -> Any:
    """json.loads, refused (TooManyValues) past `max_values` values before anything is built."""
    if _values(raw, max_values) > max_values:
        raise TooManyValues(f"JSON of more than {max_values} values")
    return json.loads(raw, **json_options)


def _values(raw: bytes, max_values: int) -> int:
    """Commas and opening brackets outside strings (each value but the first follows one), or
    more than `max_values` once the strings alone say so. Only bytes methods, which run in C:
    a regular expression over strings took seconds for 40 MiB of them on the event loop."""
    # Escaped backslashes first, then escaped quotes: every quote left opens or closes a string.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    strings = unescaped.count(b'"') // 2
    if strings > 2 * max_values + 1:  # a member is at most two strings after one comma or bracket
        return strings
    outside = b"".join(unescaped.split(b'"')[::2])  # at most ~4 x max_values pieces
    return outside.count(b",") + outside.count(b"[") + outside.count(b"{")


def why(error: ValueError) -> str:
    """What a refused answer is called in an error: the cap, or that it is not JSON."""
    return str(error) if isinstance(error, TooManyValues) else "not JSON"
