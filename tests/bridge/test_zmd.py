"""edge/bridge/zmd.py: .zmd bundles are hostile input when opened, and byte-stable when saved."""

from __future__ import annotations

import io
import zipfile

import pytest

from edge.bridge import zmd
from edge.bridge.text_profile import NotText

PICTURE = "upload_" + "ab" * 16 + ".png"
UUID_PICTURE = "0f8fad5b-d9cb-469f-a165-70867728950e.jpg"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_bundle_round_trips_and_packs_to_the_same_bytes() -> None:
    text = f"# Trip\n![map](/uploads/{PICTURE})\n"
    data = zmd.pack(text, "trip.md", {PICTURE: b"\x89PNG..."})
    assert zmd.unpack(data) == zmd.Bundle(markdown=text, pictures={PICTURE: b"\x89PNG..."})
    assert zmd.pack(text, "trip.md", {PICTURE: b"\x89PNG..."}) == data  # no timestamps: same bytes


def test_links_of_both_upload_name_shapes_are_found_under_any_base() -> None:
    text = (f"![a](https://notes.example/uploads/{PICTURE}) ![b](/uploads/{UUID_PICTURE}) "
            f"![again](/uploads/{PICTURE}) ![not ours](/uploads/../../etc/passwd) ![x](/uploads/{PICTURE}_x)")
    assert zmd.upload_names(text) == [PICTURE, UUID_PICTURE]


@pytest.mark.parametrize("entries", [
    {"../evil.md": b"x"},
    {"dir/doc.md": b"x"},
    {"pic.png": b"x"},  # no text
    {"a.md": b"x", "b.md": b"y"},
    {"a.md": b"\xff\xfe"},
])
def test_a_bundle_that_cannot_be_kept_whole_is_refused(entries: dict[str, bytes]) -> None:
    with pytest.raises(zmd.NotABundle):
        zmd.unpack(_zip(entries))


def test_a_zip_bomb_is_refused_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zmd, "MAX_TOTAL_BYTES", 1 << 20)
    bomb = _zip({"doc.md": b"x", "big.png": b"\0" * (2 << 20)})  # deflates to a few KiB
    assert len(bomb) < 64 << 10
    with pytest.raises(zmd.NotABundle, match="once unpacked"):
        zmd.unpack(bomb)


def test_a_bundle_is_refused_like_a_non_text_file() -> None:
    with pytest.raises(NotText):
        zmd.unpack(b"plain text, not a zip")


def test_the_text_entry_is_named_after_the_file() -> None:
    assert zmd.markdown_entry_name("Trip report.zmd") == "Trip_report.md"
    assert zmd.markdown_entry_name("../.zmd") == "document.md"


def test_a_lone_surrogate_in_the_apps_text_is_packed_as_a_replacement_character() -> None:
    """The markdown comes from the app (hostile): packing it never raises."""
    data = zmd.pack("# Note \ud800\n", "note.md", {})
    assert zmd.unpack(data).markdown == "# Note \ufffd\n"
