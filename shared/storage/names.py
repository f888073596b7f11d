"""File names inside a folder: what WOPI editors may ask for (PutRelativeFile, RenameFile)."""

from __future__ import annotations

import posixpath
import re

from shared.errors import InvalidFileName

FILE_NAME_MAX_LENGTH = 255  # advertised as CheckFileInfo FileNameMaxLength
# Characters refused by common filesystems and sync clients (Windows, SMB, OneDrive).
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
RESERVED_PREFIXES = (".~wopi-", ".wopi-")


def check_file_name(name: str) -> str:
    """Returns `name` when it is a legal single file name, else raises InvalidFileName."""
    if not name or not name.strip():
        raise InvalidFileName(name, "empty")
    if len(name) > FILE_NAME_MAX_LENGTH:
        raise InvalidFileName(name[:64] + "...", f"longer than {FILE_NAME_MAX_LENGTH} characters")
    if _FORBIDDEN.search(name):
        raise InvalidFileName(name, 'contains one of \\ / : * ? " < > | or a control character')
    if name in (".", "..") or name.endswith((" ", ".")):
        raise InvalidFileName(name, "must not end with a space or a dot")
    if name.startswith(RESERVED_PREFIXES):
        raise InvalidFileName(name, "names starting with .wopi- are reserved")
    return name


def sanitize_file_name(name: str, *, fallback: str = "document") -> str:
    """A legal name as close to `name` as possible (for X-WOPI-ValidRelativeTarget suggestions)."""
    cleaned = _FORBIDDEN.sub("_", name).strip().rstrip(".")
    for prefix in RESERVED_PREFIXES:
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix):]
    if not cleaned:
        cleaned = fallback
    if len(cleaned) > FILE_NAME_MAX_LENGTH:
        stem, ext = posixpath.splitext(cleaned)
        cleaned = stem[: FILE_NAME_MAX_LENGTH - len(ext)] + ext
    return cleaned


def numbered(name: str, n: int) -> str:
    """'report.docx', 2 -> 'report (2).docx': the usual way to avoid overwriting."""
    stem, ext = posixpath.splitext(name)
    suffix = f" ({n})"
    return stem[: FILE_NAME_MAX_LENGTH - len(ext) - len(suffix)] + suffix + ext
