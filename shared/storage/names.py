"""File names inside a folder: what WOPI editors may ask for (PutRelativeFile, RenameFile)."""

from __future__ import annotations

import posixpath
import re

from shared.errors import InvalidFileName

# In UTF-8 bytes: filesystems limit a name to 255 bytes (NAME_MAX), not characters ("é" is 2).
# Also advertised as CheckFileInfo FileNameMaxLength, which editors read as characters: a
# non-ASCII name within it but over it in bytes is refused here (400), not by the filesystem.
FILE_NAME_MAX_LENGTH = 255
# Characters refused by common filesystems and sync clients (Windows, SMB, OneDrive), and the
# C0/C1 control characters (U+0085 is a line break to some tools).
_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f-\x9f]')
# Lone surrogates (UTF-7 can decode to them): no filesystem or protobuf can take them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Spaces and dots at either end: trailing ones vanish on Windows, leading dots hide the file.
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
RESERVED_PREFIXES = (".~wopi-", ".wopi-")


def check_file_name(name: str) -> str:
    """Returns `name` when it is a legal single file name, else raises InvalidFileName."""
    if not name or not name.strip():
        raise InvalidFileName(name, "empty")
    if _SURROGATE.search(name):
        shown = name[:64].encode("utf-8", "backslashreplace").decode("utf-8")
        raise InvalidFileName(shown, "not valid Unicode (a lone surrogate, as bad UTF-7 decodes to)")
    if _utf8_length(name) > FILE_NAME_MAX_LENGTH:
        raise InvalidFileName(name[:64] + "...", f"longer than {FILE_NAME_MAX_LENGTH} bytes in UTF-8")
    if _FORBIDDEN.search(name):
        raise InvalidFileName(name, 'contains one of \\ / : * ? " < > | or a control character')
    if name in (".", "..") or name.endswith((" ", ".")):
        raise InvalidFileName(name, "must not end with a space or a dot")
    if name.startswith(RESERVED_PREFIXES):
        raise InvalidFileName(name, "names starting with .wopi- are reserved")
    if name.startswith("."):
        # ".docx" is an extension without a name (RenameFile to "" keeps the extension), and
        # other dot-names are hidden files no editor should make.
        raise InvalidFileName(name, "must not start with a dot (a name is needed before the extension)")
    return name


def sanitize_file_name(name: str, *, fallback: str = "document") -> str:
    """A name as close to `name` as check_file_name accepts: X-WOPI-ValidRelativeTarget
    suggestions and suggested mode's names, so it must never produce a refused one."""
    cleaned = _FORBIDDEN.sub("_", _SURROGATE.sub("", name))
    for prefix in RESERVED_PREFIXES:
        if cleaned.startswith(prefix):
            cleaned = cleaned[len(prefix):]
    # Leading dots too: "..pdf" is a hidden file, ".~lock.src.docx#" LibreOffice's lock of src.docx.
    cleaned = _EDGES.sub("", cleaned)
    if not cleaned:
        return sanitize_file_name(fallback) if fallback else "document"  # the fallback is cleaned too
    return with_suffix(cleaned, "")


def numbered(name: str, n: int) -> str:
    """'report.docx', 2 -> 'report (2).docx': the usual way to avoid overwriting."""
    return with_suffix(name, f" ({n})")


def with_suffix(name: str, suffix: str) -> str:
    """`suffix` added before the extension of a legal `name`, the stem shortened to keep the
    result within FILE_NAME_MAX_LENGTH bytes. An extension too long to leave room for a stem is
    no extension: then the whole name is shortened, so the result never starts with a dot."""
    stem, ext = posixpath.splitext(name)
    room = FILE_NAME_MAX_LENGTH - _utf8_length(suffix) - _utf8_length(ext)
    kept = _utf8_prefix(stem, room) if room > 0 else ""
    if not kept:
        kept, ext = _utf8_prefix(name, FILE_NAME_MAX_LENGTH - _utf8_length(suffix)), ""
    if not suffix and not ext:
        kept = _EDGES.sub("", kept)  # a cut can end on a space or a dot
    return kept + suffix + ext


def _utf8_length(text: str) -> int:
    """Bytes of `text` in UTF-8, the unit of filesystem limits (a lone surrogate counts 3)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _utf8_prefix(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-8 bytes: no character is split, and lone
    surrogates are dropped."""
    return text.encode("utf-8", "surrogatepass")[:max(limit, 0)].decode("utf-8", "ignore")
