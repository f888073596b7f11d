"""The one rule for file paths inside a storage: relative, '/'-separated, never above the root."""

from __future__ import annotations

import re

from shared.errors import InvalidArgument, PathOutsideRoot

# Both in UTF-8 bytes, the unit of filesystem limits (NAME_MAX 255 per name, PATH_MAX 4096
# with the root): counted in characters, "é" * 200 passes and ends in ENAMETOOLONG.
MAX_PATH_LENGTH = 1024
VERSIONS_FOLDER = ".wopi-versions"
STAGING_FOLDER = ".wopi-staging"  # uploads in progress (shared.storage.fsspec_storage)
RESERVED_PREFIXES = (".wopi-", ".~wopi-")
MAX_SEGMENT_LENGTH = 255
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1, as shared.storage.names refuses
# Lone surrogates cannot be stored (nor sent in a protobuf); os.stat would even take "\udc80"
# as the raw byte 0x80 (surrogateescape).
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def normalize_relative_path(path: str, *, field: str = "path", internal: bool = False) -> str:
    """Returns the canonical form of `path` or raises; '.' and empty segments are dropped.

    `internal` admits wopi-proxy's own reserved names (kept versions), never set for user input.
    """
    if not path:
        raise InvalidArgument(field, "must not be empty")
    if _SURROGATE.search(path):
        raise InvalidArgument(field, "not valid Unicode (contains a lone surrogate)")
    if len(path.encode("utf-8")) > MAX_PATH_LENGTH:
        raise InvalidArgument(field, f"longer than {MAX_PATH_LENGTH} bytes in UTF-8")
    if _CONTROL.search(path):
        raise InvalidArgument(field, "contains control characters")
    if "\\" in path:
        raise InvalidArgument(field, "contains a backslash; use '/' between folders")
    if path.startswith("/") or _DRIVE.match(path):
        raise PathOutsideRoot(path, field)
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise PathOutsideRoot(path, field)
    if not segments:
        raise InvalidArgument(field, "names no file")
    if any(len(s.encode("utf-8")) > MAX_SEGMENT_LENGTH for s in segments):
        raise InvalidArgument(field, f"a segment is longer than {MAX_SEGMENT_LENGTH} bytes in UTF-8")
    if not internal and any(s.startswith(RESERVED_PREFIXES) for s in segments):
        raise InvalidArgument(field, "names starting with .wopi- or .~wopi- are reserved for wopi-proxy")
    return "/".join(segments)


def version_object_path(file_id: str, version: int) -> str:
    """Where a kept version's bytes live, inside the storage root (the tenant's data stays there)."""
    return f"{VERSIONS_FOLDER}/{file_id}/{version}"
