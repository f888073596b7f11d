"""edge/bridge/text_profile.py: a file goes through an app and comes back in its own shape."""

from __future__ import annotations

import pytest

from edge.bridge.text_profile import NotText, TextProfile, decode, encode, is_html


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
    assert TextProfile.from_json(TextProfile(html=True).to_json()).html


def test_html_files_are_named_by_their_extension() -> None:
    assert is_html("page.html") and is_html("Page.HTM") and is_html("a.b.Html")
    assert not is_html("notes.md") and not is_html("html") and not is_html("page.html.txt")


def test_an_html_file_is_written_as_the_app_gives_it_whatever_its_line_endings() -> None:
    text, profile = decode(b"\xef\xbb\xbf<p>a</p>\r\n<p>b</p>", html=True)
    assert text == "<p>a</p>\n<p>b</p>" and profile == TextProfile(html=True)
    exported = "<!DOCTYPE HTML><html><body>a<br>b &#252;<br></body></html>"
    assert encode(exported, profile) == exported.encode()
