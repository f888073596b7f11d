"""edge/bridge/text_profile.py: a file goes through an app and comes back in its own shape."""

from __future__ import annotations

import pytest

from edge.bridge.text_profile import NotText, TextProfile, decode, encode, is_html, to_utf8


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


# What a participant of a bridged app can put into its text: lone surrogates (JSON "\ud800" is valid
# over socket.io and Etherpad returns it as it is), reversed pairs, a surrogate at either end.
HOSTILE = ["\ud800", "a\udfffb", "evil\ud800 and ann's work\n", "\udc00\ud800", "\ud83d",
           "x\ud83d\n\ude00y\n", "\ud800" * 1000]


def _replaced(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("profile", [TextProfile(), TextProfile(crlf=True, final_newline=False, bom=True),
                                     TextProfile(html=True)], ids=["lf", "crlf-bom", "html"])
def test_the_apps_text_always_becomes_bytes_with_a_replacement_for_what_utf8_cannot_hold(
        text: str, profile: TextProfile) -> None:
    """A lone surrogate would raise UnicodeEncodeError at every later save of the document; it
    becomes U+FFFD (not "?", which would look like typed text) and the rest is kept."""
    data = encode(text, profile)
    assert data == encode(_replaced(text), profile)
    assert "\ufffd" in data.decode("utf-8")


@pytest.mark.parametrize("text", ["", "plain", "caf\u00e9 \U0001F600", "\ufffd already", "\U0010FFFF\x00"])
def test_text_utf8_can_hold_is_encoded_unchanged(text: str) -> None:
    assert to_utf8(text) == text.encode("utf-8")


@pytest.mark.parametrize("code_point", [*range(0xD800, 0xD810), *range(0xDBF0, 0xDC10), *range(0xDFF0, 0xE000)])
def test_every_surrogate_code_point_becomes_one_replacement_character(code_point: int) -> None:
    assert to_utf8(f"a{chr(code_point)}b") == "a\ufffdb".encode()
