""".zmd bundles: a Markdown document and the pictures it shows, in one zip (the layout cs3's CodiMD
bridge writes: the pictures at the top level under their upload names, the text as `<name>.md`).

Opening a bundle is parsing hostile input: at most MAX_ENTRIES entries and MAX_TOTAL_BYTES once
inflated (counted while reading, not trusted from the headers: no zip bomb), only plain top-level
names (no folders, no `..`), exactly one `.md` entry, UTF-8. Anything else is refused as a whole
(NotABundle) rather than opened with parts silently left out, which the next save would drop.

pack() is deterministic (sorted entries, fixed timestamps, stored): the same text and pictures give
the same bytes, so that a save of an unchanged bundle is recognised by its hash and never written.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from edge.bridge.text_profile import NotText, to_utf8

MAX_ENTRIES = 1000
MAX_TOTAL_BYTES = 64 << 20
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# Upload names of CodiMD (`upload_<32 hex>.<ext>`) and HedgeDoc 1.x (`<uuid4>.<ext>`), as linked from
# the text: `/uploads/<name>`, relative or under any base URL (only the name is ever used).
UPLOAD_LINK = re.compile(r"/uploads/((?:upload_[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                         r"\.[A-Za-z0-9]{1,8})(?![A-Za-z0-9._-])")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class NotABundle(NotText):
    """The file is not a bundle the bridge can open and save back whole; the message says why.
    (A NotText: callers that refuse non-text files refuse it the same way.)"""


@dataclass(frozen=True)
class Bundle:
    markdown: str
    pictures: dict[str, bytes] = field(default_factory=dict)


def is_bundle_name(file_name: str) -> bool:
    return file_name.lower().endswith(".zmd")


def markdown_entry_name(file_name: str) -> str:
    """`report.zmd` → `report.md` (the name the text has inside the bundle)."""
    stem = file_name.rsplit("/", 1)[-1]
    stem = stem[: -len(".zmd")] if is_bundle_name(stem) else stem
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-") or "document"
    return f"{safe[:190]}.md"


def upload_names(markdown: str) -> list[str]:
    """The upload names the text links to, each once, in order of appearance."""
    return list(dict.fromkeys(UPLOAD_LINK.findall(markdown)))


def unpack(data: bytes) -> Bundle:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise NotABundle(f"not a zip file ({error})") from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_ENTRIES:
            raise NotABundle(f"more than {MAX_ENTRIES} entries")
        markdown: str | None = None
        pictures: dict[str, bytes] = {}
        budget = MAX_TOTAL_BYTES
        for info in entries:
            name = info.filename
            if not _ENTRY_NAME.match(name) or ".." in name:
                raise NotABundle(f"an entry the bridge cannot keep: {name[:80]!r}")
            if name in pictures or (markdown is not None and name.lower().endswith(".md")):
                raise NotABundle(f"a second entry named like {name[:80]!r}")
            with archive.open(info) as member:
                content = member.read(budget + 1)
            budget -= len(content)
            if budget < 0:
                raise NotABundle(f"over {MAX_TOTAL_BYTES} bytes once unpacked")
            if name.lower().endswith(".md"):
                try:
                    markdown = content.decode("utf-8").removeprefix("\ufeff")
                except UnicodeDecodeError:
                    raise NotABundle("its Markdown is not UTF-8") from None
            else:
                pictures[name] = content
        if markdown is None:
            raise NotABundle("no .md entry")
    return Bundle(markdown=markdown, pictures=pictures)


def pack(markdown: str, markdown_name: str, pictures: dict[str, bytes]) -> bytes:
    """The bundle's bytes. The markdown is the app's text (hostile): to_utf8 never refuses it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(pictures):
            archive.writestr(_entry(name), pictures[name])
        archive.writestr(_entry(markdown_name), to_utf8(markdown))
    return buffer.getvalue()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info
