"""Field rules shared by the services; each failure names its field."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from shared.errors import InvalidArgument

_TENANT_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_STORAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PROTOCOL = re.compile(r"^[a-z][a-z0-9+.-]{0,31}$")


def tenant_id(value: str, field: str = "tenant_id") -> str:
    if not _TENANT_ID.match(value or ""):
        raise InvalidArgument(field, "1-63 characters of a-z, 0-9 and '-', starting with a letter")
    return value


def storage_name(value: str, field: str = "name") -> str:
    if not _STORAGE_NAME.match(value or ""):
        raise InvalidArgument(field, "1-63 characters of a-z, 0-9, '-' and '_'")
    return value


def protocol(value: str) -> str:
    if not _PROTOCOL.match(value):
        raise InvalidArgument("protocol", "an fsspec protocol name such as file, s3 or memory")
    return value


def text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    if required and not value.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidArgument(field, f"longer than {max_length} characters")
    if any(ord(c) < 32 for c in value):
        raise InvalidArgument(field, "contains control characters")
    return value


def ttl_seconds(value: int, default: int, field: str = "ttl_seconds") -> int:
    if value == 0:
        return default
    if not 60 <= value <= 7 * 24 * 3600:
        raise InvalidArgument(field, "between 60 and 604800 seconds (7 days), or 0 for the default")
    return value


# The last millisecond of the year 9999: beyond what a database integer or a datetime holds for
# every driver, and past any real record, so a time outside [0, MAX_TIME_MS] is a caller's mistake.
MAX_TIME_MS = 253_402_300_799_999


def time_ms(value: int | None, field: str) -> int | None:
    """A caller's point in time (a google.protobuf.Timestamp in ms), None when not given."""
    if value is not None and not 0 <= value <= MAX_TIME_MS:
        raise InvalidArgument(field, "between 1970-01-01 and 9999-12-31T23:59:59.999Z")
    return value


def http_url(value: str, field: str) -> str:
    """An absolute http(s) URL, or "" to unset."""
    if value == "":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
        raise InvalidArgument(field, "an absolute http:// or https:// URL")
    return value


def origin(value: str, field: str) -> str:
    """A PostMessage origin: scheme://host[:port], exactly, never '*' (rest/online/hostpage)."""
    if value == "":
        return value
    parts = urlsplit(value)
    if (value == "*" or parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/")
            or parts.query or parts.fragment):
        raise InvalidArgument(field, "an origin such as https://app.example.com ('*' is not allowed)")
    return f"{parts.scheme}://{parts.netloc}"


_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_lookup_id(value: str) -> bool:
    """Ids we issue are base64url (plus '_'/'-'): anything else can name nothing, and must not reach
    the database (PostgreSQL text cannot even hold NUL)."""
    return bool(_OPAQUE_ID.match(value))


def is_tenant_id(value: str) -> bool:
    return bool(_TENANT_ID.match(value or ""))


def is_storage_name(value: str) -> bool:
    return bool(_STORAGE_NAME.match(value or ""))


def printable(value: str, max_length: int) -> str:
    """Free text headed for the audit: control characters (NUL included) dropped, length capped."""
    if value.isascii() and value.isprintable():  # the usual case: nothing to drop (32..126 only)
        return value[:max_length]
    return "".join(c for c in value if ord(c) >= 32 and c != "\x7f")[:max_length]
