"""The path rule (shared/storage/paths.py) measures in UTF-8 bytes, as filesystems do, and a
path the filesystem still cannot take is an invalid name, never a bare OSError."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import InvalidArgument, InvalidFileName
from shared.storage import FsspecStorage, normalize_relative_path


def test_a_segment_of_255_utf8_bytes_is_accepted() -> None:
    path = "folder/" + "é" * 125 + ".docx"
    assert normalize_relative_path(path) == path


def test_a_segment_over_255_utf8_bytes_is_refused_though_it_has_fewer_characters() -> None:
    with pytest.raises(InvalidArgument, match="bytes"):
        normalize_relative_path("folder/" + "é" * 200)


def test_a_path_over_1024_utf8_bytes_is_refused_though_it_has_fewer_characters() -> None:
    path = "/".join(["é" * 100] * 6)  # 605 characters, 1205 bytes
    with pytest.raises(InvalidArgument, match="bytes"):
        normalize_relative_path(path)


@pytest.mark.parametrize("path", ["a\ud800b.docx", "folder/\udc80.docx"], ids=["high", "low"])
def test_a_lone_surrogate_is_refused(path: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_relative_path(path)


@pytest.mark.parametrize("char", ["\x80", "\x85", "\x9f"])
def test_c1_control_characters_are_refused(char: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_relative_path(f"folder/a{char}b.pdf")


async def test_a_path_too_long_for_the_local_filesystem_is_an_invalid_file_name(tmp_path: Path) -> None:
    """Each part is within the rule, the whole (with a deep root) is over Linux's PATH_MAX."""
    root = tmp_path.joinpath(*["d" * 250] * 15)
    root.mkdir(parents=True)
    storage = FsspecStorage("file", str(root), egress=None)
    with pytest.raises(InvalidFileName) as refused:
        await storage.kind("x" * 250 + "/" + "y" * 250 + "/z.docx")
    assert str(root) not in refused.value.message  # the tenant never sees the root
