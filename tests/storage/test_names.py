"""The file-name rule (shared/storage/names.py): limits in UTF-8 bytes, as filesystems count
them, and sanitized or numbered names that check_file_name always accepts."""

from __future__ import annotations

import pytest

from shared.errors import InvalidFileName
from shared.storage import check_file_name, numbered, sanitize_file_name
from shared.storage.names import FILE_NAME_MAX_LENGTH

# Inputs a client can send: illegal characters, surrogates UTF-7 can decode to, dot-names,
# names too long in bytes (with and without an extension), and names that clean to nothing.
HOSTILE = [
    "", " ", ".", "..", "...", ". .", "..pdf", ".pdf", ".~lock.src.docx#", ".wopi-versions", ".~wopi-x.docx",
    ".wopi-.wopi-x", "a. .", "a/b\\c:d*e?f\"g<h>i|j.docx", "tab\there", "nel\x85.pdf", "del\x7f", "\x9f",
    "a\ud800b.docx", "\udc80", "é" * 200, "é" * 300 + ".docx", "a." + "é" * 300, "€" * 100 + "." + "€" * 100,
    "x" * 254 + " .", "\u3000name\u3000",
]


def _utf8(name: str) -> int:
    return len(name.encode("utf-8"))


def test_a_name_of_255_utf8_bytes_is_accepted() -> None:
    name = "é" * 123 + "abcd.docx"  # 132 characters, 246 + 9 bytes
    assert _utf8(name) == FILE_NAME_MAX_LENGTH
    assert check_file_name(name) == name


def test_a_name_over_255_utf8_bytes_is_refused_though_it_has_fewer_characters() -> None:
    name = "é" * 200  # 200 characters, 400 bytes: ENAMETOOLONG on disk
    with pytest.raises(InvalidFileName, match="bytes"):
        check_file_name(name)


@pytest.mark.parametrize("name", ["a\ud800b.docx", "a\udc80b.docx"], ids=["high", "low"])
def test_a_lone_surrogate_is_refused(name: str) -> None:
    with pytest.raises(InvalidFileName) as refused:
        check_file_name(name)
    refused.value.message.encode("utf-8")  # the message itself can be sent and logged


@pytest.mark.parametrize("char", ["\x80", "\x85", "\x9f"])
def test_c1_control_characters_are_refused(char: str) -> None:
    with pytest.raises(InvalidFileName):
        check_file_name(f"a{char}b.pdf")


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("fallback", ["document", "..", ".hidden", "é" * 300])
def test_a_sanitized_name_always_passes_check_file_name(name: str, fallback: str) -> None:
    check_file_name(sanitize_file_name(name, fallback=fallback))


@pytest.mark.parametrize(("name", "expected"), [("..pdf", "pdf"), (".~lock.src.docx#", "~lock.src.docx#")],
                         ids=["dotdot-ext", "libreoffice-lock"])
def test_sanitize_drops_leading_dots(name: str, expected: str) -> None:
    assert sanitize_file_name(name) == expected


def test_sanitize_drops_lone_surrogates() -> None:
    assert sanitize_file_name("a\ud800b\udc80c.docx") == "abc.docx"


def test_sanitize_cuts_a_long_name_by_utf8_bytes_keeping_the_extension() -> None:
    cleaned = sanitize_file_name("é" * 300 + ".docx")
    assert cleaned == "é" * 125 + ".docx"  # 250 + 5 bytes
    assert _utf8(cleaned) == FILE_NAME_MAX_LENGTH


def test_sanitize_never_splits_a_character() -> None:
    cleaned = sanitize_file_name("a" + "€" * 100)  # 1 + 300 bytes; "€" is 3
    assert cleaned == "a" + "€" * 84  # 253 bytes: an 85th would need 256


def test_sanitize_of_a_name_that_cleans_to_nothing_is_the_fallback() -> None:
    assert sanitize_file_name("..", fallback="report") == "report"


def test_sanitize_cleans_an_illegal_fallback_too() -> None:
    assert sanitize_file_name("..", fallback=".hidden") == "hidden"


def test_numbered_keeps_the_extension() -> None:
    assert numbered("report.docx", 2) == "report (2).docx"


@pytest.mark.parametrize("n", [2, 1000])
def test_numbered_names_of_a_long_name_fit_in_255_utf8_bytes(n: int) -> None:
    name = "é" * 125 + ".docx"
    made = numbered(name, n)
    assert _utf8(made) <= FILE_NAME_MAX_LENGTH
    assert made.endswith(f" ({n}).docx")
    check_file_name(made)


def test_numbered_cuts_an_extension_too_long_to_leave_room_for_a_name() -> None:
    made = numbered("a." + "é" * 126, 2)  # an "extension" of 253 bytes
    assert made.endswith(" (2)") and made.startswith("a.é")
    check_file_name(made)
