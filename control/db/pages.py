"""Opaque page tokens: base64url JSON of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(value: int) -> int:
    if value < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode(token: str) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token", "not a token returned by this API") from exc


def _refuse() -> InvalidArgument:
    return InvalidArgument("page_token", "not a token returned by this API")


def _int64(value: object) -> bool:
    """Keys we put in tokens are ids and times: 64-bit signed, as the columns (a larger one failed
    in the database driver, answered as an internal error)."""
    return type(value) is int and -(1 << 63) <= value < (1 << 63)


def _clean_text(value: object) -> bool:
    """Keys we put in tokens are ids and names: printable, never NUL (PostgreSQL refuses it)."""
    return isinstance(value, str) and 0 < len(value) <= 300 and all(32 <= ord(c) != 127 for c in value)


def decode_text(token: str) -> str | None:
    """The last key of a page sorted by a name or an id."""
    key = decode(token)
    if key is not None and not _clean_text(key):
        raise _refuse()
    return key


def decode_int(token: str) -> int | None:
    """The last key of a page sorted by a number."""
    key = decode(token)
    if key is not None and not _int64(key):
        raise _refuse()
    return key


def decode_time_and_id(token: str) -> tuple[int, str] | None:
    """The last (time in ms, id) of a page sorted by time, ties broken by id."""
    key = decode(token)
    if key is None:
        return None
    if not (isinstance(key, list) and len(key) == 2 and _int64(key[0]) and _clean_text(key[1])):
        raise _refuse()
    return key[0], key[1]
