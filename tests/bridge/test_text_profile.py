"""edge/bridge/text_profile.py: a file goes through an app and comes back in its own shape."""

from __future__ import annotations

import pytest

from edge.bridge.text_profile import NotText, TextProfile, decode, encode


@pytest.mark.parametrize("data", [b"", b"one line", b"a\nb\n", b"a\r\nb\r\n", b"a\r\nb",
                                  "caf\u00e9 \U0001F600\n".encode(), b"\xef\xbb\xbfbom\r\n"])
def test_a_file_round_trips_through_an_app_that_adds_a_final_newline(data: bytes) -> None:
    text, profile = decode(data)
    app_text = text if text.endswith("\n") else text + "\n"  # Etherpad's getText always ends with one
    assert encode(app_text, profile) == data


def test_crlf_is_restored_on_new_lines_typed_in_the_app() -> None:
    _, profile = decode(b"a\r\nb\r\n")
    assert encode("a\nb\nc\n", profile) == b"a\r\nb\r\nc\r\n"


def test_a_tab_marks_the_file_lossy() -> None:
    assert decode(b"a\tb\n")[1].lossy


def test_binary_content_is_not_text() -> None:
    with pytest.raises(NotText):
        decode(b"\xff\xfe\x00")


def test_the_profile_survives_its_json_form() -> None:
    profile = TextProfile(crlf=True, final_newline=False, lossy=True, bom=True)
    assert TextProfile.from_json(profile.to_json()) == profile
