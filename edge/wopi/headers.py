"""Reading WOPI request headers strictly: a malformed header is a 400, never a guess."""

from __future__ import annotations

from edge.request_headers import header, headers, optional_header
from shared.errors import InvalidArgument, InvalidFileName
from shared.lock_ids import check_lock_id


def lock_header(name: str = "X-WOPI-Lock", *, required: bool = True) -> str:
    value = header(name)
    if not value and not required:
        return ""
    return check_lock_id(value, name)


def utf7_header(name: str) -> str | None:
    """File names travel UTF-7 encoded (rest/putrelativefile); answers carry them as UTF-8.

    Python's decoder lets an unpaired surrogate through ("a+2AA-b" is "a\\ud800b"). It is left
    to shared.storage.names, which refuses it like any illegal name, so that each operation
    answers as the spec asks: RenameFile 400 + X-WOPI-InvalidFileNameError, RelativeTarget 400 +
    X-WOPI-ValidRelativeTarget (a free name, found in storage), SuggestedTarget a legal name.
    """
    raw = optional_header(name)
    if raw is None:
        return None
    try:
        return raw.encode("ascii").decode("utf-7")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidFileName(raw[:100], f"{name} is not valid UTF-7") from None


def utf7(value: str) -> str:
    """For names we send back in headers (X-WOPI-ValidRelativeTarget)."""
    return value.encode("utf-7").decode("ascii")


def bool_header(name: str) -> bool:
    value = header(name).strip().lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise InvalidArgument(name, "must be true or false")


def int_header(name: str) -> int | None:
    raw = optional_header(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(name, "not an integer") from None
    if value < 0:
        raise InvalidArgument(name, "negative")
    return value


def editor_header(*names: str) -> str | None:
    """The first present of Collabora's X-COOL-WOPI-* and its older X-LOOL-WOPI-* spelling
    (OnlyOffice still sends the LOOL names)."""
    for name in names:
        for prefix in ("X-COOL-WOPI-", "X-LOOL-WOPI-"):
            value = optional_header(prefix + name)
            if value is not None:
                return value
    return None


def from_timestamp_editor() -> bool:
    """True for editors that guard saves with timestamps instead of WOPI locks (Collabora, and
    OnlyOffice in its Collabora-compatible mode): they send X-COOL-/X-LOOL-WOPI-* save headers."""
    return any(k.startswith(("x-cool-wopi-", "x-lool-wopi-")) for k in headers())
