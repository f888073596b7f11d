"""JSON from a server a tenant runs (its bridged app), parsed only when it holds few values.

The bytes are capped already (shared/bounded_body), but parsed JSON costs per value, not per byte:
40 MiB of `[{},{},...]` became ~1.6 GiB of dicts and took seconds of the event loop every tenant
shares. What apps answer legitimately is a document in one string and a few fields (an Etherpad
attribute pool is a few values per author and style), so the values are counted first, in C:
strings are cut out (their bytes cost once, whatever they hold), then every value but the first
follows a comma or opens a container."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_VALUES = 200_000
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class TooManyValues(ValueError):
    """A ValueError, as json's own errors are: callers treat it as an answer that is not JSON."""


def loads(raw: bytes, *, max_values: int = MAX_VALUES, **json_options: Any) -> Any:
    """json.loads, refused (TooManyValues) past `max_values` values before anything is built."""
    skeleton = _STRING.sub(b"", raw)
    values = skeleton.count(b",") + skeleton.count(b"[") + skeleton.count(b"{")
    if values > max_values:
        raise TooManyValues(f"JSON of more than {max_values} values")
    return json.loads(raw, **json_options)


def why(error: ValueError) -> str:
    """What a refused answer is called in an error: the cap, or that it is not JSON."""
    return str(error) if isinstance(error, TooManyValues) else "not JSON"
