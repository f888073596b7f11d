"""How a text file's bytes were shaped, so that a save gives back the same shape.

Apps normalise what they are given (Etherpad: CRLF and CR become LF, TAB becomes 8 spaces, NBSP a
space, and its text always ends with a newline). The bridge loads the file as LF text, remembers the
file's line ending and whether it ended with a newline, and on save turns the app's text back into
bytes of that shape. A file whose only "change" is the app's normalisation is then byte-identical,
or at worst recognised by comparing with the normalised baseline, and is never rewritten.

HTML files (`.html`/`.htm`, Etherpad only) have no shape to keep: the app gives back its own HTML
(Etherpad's getHTML), which is written as it is, in UTF-8.

An app's text is hostile input: any participant can put a lone UTF-16 surrogate into it (JSON
"\\ud800" is valid over socket.io, and Etherpad keeps and returns it), which UTF-8 cannot encode.
to_utf8() is total: each such code point becomes U+FFFD, so that one participant's keystroke cannot
make every later save of the document fail.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TextProfile:
    crlf: bool = False  # the file used CRLF line endings
    final_newline: bool = True  # the file ended with a line ending
    lossy: bool = False  # holds TAB, NBSP or a bare CR: the app will rewrite them (warn, don't save for that)
    bom: bool = False  # the file began with a UTF-8 byte order mark (apps drop it; a save puts it back)
    html: bool = False  # an HTML file: the app's HTML is written as it is (no line-ending shape, no BOM)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, value: str) -> TextProfile:
        if not value:
            return cls()
        data = json.loads(value)
        return cls(**{k: bool(data[k]) for k in ("crlf", "final_newline", "lossy", "bom", "html")
                     if k in data})


HTML_SUFFIXES = (".html", ".htm")
# The only code points a Python str can hold that UTF-8 cannot encode: surrogates (U+D800..U+DFFF).
# JSON decoders join escaped pairs, so any surrogate left in an app's text stands alone.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def to_utf8(text: str) -> bytes:
    """The text's UTF-8 bytes, with U+FFFD for what UTF-8 cannot hold: never raises, whatever the
    app sent. (Not `encode(errors="replace")`: that writes "?", which looks like the user's text.)"""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text).encode("utf-8")


def is_html(file_name: str) -> bool:
    """The file is opened as HTML (Etherpad's setHTML/getHTML), not as plain text."""
    return file_name.lower().endswith(HTML_SUFFIXES)


class NotText(ValueError):
    """The bytes are not UTF-8 text: the bridge cannot open the file."""


def decode(data: bytes, *, html: bool = False) -> tuple[str, TextProfile]:
    """The file's text with LF line endings, and its profile (an HTML file's profile says only that)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotText(str(error)) from error
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    crlf = "\r\n" in text
    lf_text = text.replace("\r\n", "\n")
    lossy = "\r" in lf_text or "\t" in lf_text or "\u00a0" in lf_text
    if html:
        return lf_text, TextProfile(html=True)
    final_newline = lf_text.endswith("\n")
    return lf_text, TextProfile(crlf=crlf, final_newline=final_newline, lossy=lossy, bom=bom)


def encode(app_text: str, profile: TextProfile) -> bytes:
    """Bytes in the file's shape from the app's text (which may carry the app's added final newline)."""
    if profile.html:
        return to_utf8(app_text)
    text = app_text.replace("\r\n", "\n").replace("\r", "\n")
    if not profile.final_newline:
        text = text.removesuffix("\n")
    elif text and not text.endswith("\n"):
        text += "\n"
    if profile.crlf:
        text = text.replace("\n", "\r\n")
    if profile.bom and not text.startswith("\ufeff"):
        text = "\ufeff" + text
    return to_utf8(text)
