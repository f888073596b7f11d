"""parse_discovery, choose_action and extensions on the editors' real discovery documents
(tests/fixtures/discovery, sources in its README), and on hostile or broken input."""

from __future__ import annotations

import json
import re
import time

import pytest

from control.editors.discovery import (
    MAX_ELEMENTS,
    DiscoveryError,
    ProofKey,
    choose_action,
    extensions,
    parse_discovery,
)
from tests.control.editors import ms_proof_vectors as ms
from tests.control.editors.support import DOCUMENTS, PROOF_KEYS, document, parsed

ALL_WOPI_GROUPS = frozenset({"locks", "update", "cobalt", "containers"})


# -- what each product publishes ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "product", "zone"), [
    ("collabora", "collabora", "external-http"),
    ("onlyoffice", "onlyoffice", "external-http"),
    ("microsoft365", "microsoft", "external-https"),
    ("validator", "microsoft", "external-https"),  # it imitates Office's document, .aspx URLs and all
])
def test_product_and_zone_are_recognised(name: str, product: str, zone: str) -> None:
    discovery = parsed(name)
    assert discovery.product == product
    assert {a.zone for a in discovery.actions} == {zone}


def test_counts_every_usable_action_of_each_document() -> None:
    # Collabora: 175 actions; the two commented-out "math" apps are not counted.
    assert len(parsed("collabora").actions) == 175
    assert len(parsed("onlyoffice").actions) == 15
    assert len(parsed("microsoft365").actions) == 366
    assert len(parsed("validator").actions) == 78


@pytest.mark.parametrize(("name", "extension", "edit", "view"), [
    # Collabora: edit alone for what it edits; asked to view, that edit action is the answer.
    ("collabora", "docx", ("writer", "edit"), ("writer", "edit")),
    ("collabora", "xlsx", ("calc", "edit"), ("calc", "edit")),
    ("collabora", "pptx", ("impress", "edit"), ("impress", "edit")),
    ("collabora", "odt", ("writer", "edit"), ("writer", "edit")),
    ("collabora", "dotx", ("writer", "view"), ("writer", "view")),  # view-only format
    ("collabora", "pdf", ("draw", "view_comment"), ("draw", "view_comment")),
    # ONLYOFFICE (the copy trimmed upstream holds docx, xls, xlsb; see the fixtures' README)
    ("onlyoffice", "docx", ("Word", "edit"), ("Word", "view")),
    ("onlyoffice", "xls", ("Excel", "view"), ("Excel", "view")),
    ("onlyoffice", "pdf", ("Word", "view"), ("Word", "view")),
    # Microsoft 365
    ("microsoft365", "docx", ("Word", "edit"), ("Word", "view")),
    ("microsoft365", "xlsx", ("Excel", "edit"), ("Excel", "view")),
    ("microsoft365", "pptx", ("PowerPoint", "edit"), ("PowerPoint", "view")),
    ("microsoft365", "odt", ("Word", "edit"), ("Word", "view")),
    ("microsoft365", "doc", ("Word", "view"), ("Word", "view")),  # Word converts .doc, edits no .doc
    ("microsoft365", "pdf", ("WordPdf", "view"), ("WordPdf", "view")),
    # the validator's document
    ("validator", "docx", ("Word", "edit"), ("Word", "view")),
    ("validator", "xlsx", ("Excel", "edit"), ("Excel", "view")),
    ("validator", "pptx", ("PowerPoint", "edit"), ("PowerPoint", "view")),
    ("validator", "odt", ("Word", "edit"), ("Word", "view")),
])
def test_edit_or_view_action_per_extension(name: str, extension: str, edit: tuple[str, str],
                                           view: tuple[str, str]) -> None:
    discovery = parsed(name)
    chosen_edit = choose_action(discovery, extension, want_edit=True)
    chosen_view = choose_action(discovery, extension, want_edit=False)
    assert chosen_edit is not None and (chosen_edit.app, chosen_edit.name) == edit
    assert chosen_view is not None and (chosen_view.app, chosen_view.name) == view


def test_the_microsoft_actions_chosen_are_the_real_editor_and_viewer_frames() -> None:
    discovery = parsed("microsoft365")
    edit = choose_action(discovery, "docx", want_edit=True)
    view = choose_action(discovery, "docx", want_edit=False)
    assert edit is not None
    assert edit.urlsrc.startswith("https://FFC-word-edit.officeapps.live.com/we/wordeditorframe.aspx?")
    assert edit.requires == {"locks", "update"} and not edit.default
    assert view is not None
    assert view.urlsrc.startswith("https://FFC-word-view.officeapps.live.com/wv/wordviewerframe.aspx?")
    assert view.default and view.requires == frozenset()


@pytest.mark.parametrize("name", DOCUMENTS)
def test_unknown_or_missing_extensions_have_no_action(name: str) -> None:
    for extension in ("", ".", "exe", "docx.exe"):
        assert choose_action(parsed(name), extension, want_edit=False) is None


def test_onlyoffice_copy_lacks_xlsx_pptx_odt() -> None:
    # Stated in the README: what the upstream trim removed is not invented here.
    discovery = parsed("onlyoffice")
    for extension in ("xlsx", "pptx", "odt"):
        assert choose_action(discovery, extension, want_edit=True) is None
    # ...and MIME-typed apps (ext="") are not matched by extension.
    mime_typed = {a.app for a in discovery.actions if not a.ext}
    assert mime_typed == {"application/vnd.oasis.opendocument.presentation"}


@pytest.mark.parametrize("spelling", ["DOCX", ".docx", ".DocX", " docx "])
def test_extension_is_case_insensitive_and_dot_optional(spelling: str) -> None:
    for name in DOCUMENTS:
        assert choose_action(parsed(name), spelling, want_edit=True) == \
            choose_action(parsed(name), "docx", want_edit=True)


# -- requires ------------------------------------------------------------------------------------------


def test_onenote_needs_cobalt_which_this_host_lacks() -> None:
    # OneNote's edit requires "cobalt,containers,update" and even its view "cobalt,containers".
    discovery = parsed("microsoft365")
    assert choose_action(discovery, "one", want_edit=True) is None
    assert choose_action(discovery, "one", want_edit=False) is None
    edit = choose_action(discovery, "one", want_edit=True, host_supports=ALL_WOPI_GROUPS)
    assert edit is not None and edit.name == "edit" and edit.requires == {"cobalt", "containers", "update"}
    assert edit.default


def test_an_edit_action_requiring_cobalt_is_not_chosen() -> None:
    # The only "cobalt"-requiring action for docx is Word's "open"; "edit" never picks it up.
    discovery = parsed("microsoft365")
    cobalt = [a for a in discovery.actions if a.ext == "docx" and "cobalt" in a.requires]
    assert [(a.name, a.requires) for a in cobalt] == [("open", frozenset({"cobalt"}))]
    for supports in (frozenset({"locks", "update"}), ALL_WOPI_GROUPS):
        chosen = choose_action(discovery, "docx", want_edit=True, host_supports=supports)
        assert chosen is not None and chosen.name == "edit" and "cobalt" not in chosen.requires


def test_edit_falls_back_to_view_when_the_host_lacks_a_required_group() -> None:
    for name in ("microsoft365", "validator", "onlyoffice"):
        chosen = choose_action(parsed(name), "docx", want_edit=True, host_supports=frozenset({"update"}))
        assert chosen is not None and chosen.name == "view", name
    # Excel's edit needs only "update" on Microsoft 365.
    chosen = choose_action(parsed("microsoft365"), "xlsx", want_edit=True,
                           host_supports=frozenset({"update"}))
    assert chosen is not None and chosen.name == "edit"


def test_view_requirements_are_honoured_too() -> None:
    # The validator's WopiTest "getinfo" requires containers; "view" does not.
    discovery = parsed("validator")
    getinfo = [a for a in discovery.actions if a.name == "getinfo"]
    assert getinfo and getinfo[0].requires == {"containers"}
    chosen = choose_action(discovery, "wopitest", want_edit=False, host_supports=frozenset())
    assert chosen is not None and chosen.name == "view"


def test_duplicates_prefer_the_default_action() -> None:
    xml = b"""<?xml version="1.0" encoding="utf-8"?>
<wopi-discovery><net-zone name="external-https">
  <app name="A"><action name="view" ext="docx" urlsrc="https://a.example/first?"/></app>
  <app name="B"><action name="view" ext="docx" default="true" urlsrc="https://b.example/second?"/>
                <action name="view" ext="docx" urlsrc="https://b.example/third?"/></app>
</net-zone></wopi-discovery>"""
    chosen = choose_action(parse_discovery(xml), "docx", want_edit=False)
    assert chosen is not None and chosen.urlsrc == "https://b.example/second?"
    xml_without_default = xml.replace(b' default="true"', b"")
    chosen = choose_action(parse_discovery(xml_without_default), "docx", want_edit=False)
    assert chosen is not None and chosen.urlsrc == "https://a.example/first?"


# -- extensions, favicons -------------------------------------------------------------------------------


def test_extensions_are_sorted_and_unique() -> None:
    for name in DOCUMENTS:
        found = extensions(parsed(name))
        assert found == sorted(set(found)) and "" not in found
    assert extensions(parsed("onlyoffice")) == ["djvu", "docx", "pdf", "xls", "xlsb"]
    microsoft = set(extensions(parsed("microsoft365")))
    assert {"docx", "xlsx", "pptx", "odt", "one", "vsdx", "wopitest"} <= microsoft
    assert {"docx", "xlsx", "pptx", "odt", "odg", "pdf", "csv", "svg"} <= set(extensions(parsed("collabora")))


def test_favicon_per_app() -> None:
    assert parsed("microsoft365").favicons["Word"] == \
        "https://FFC-word-view.officeapps.live.com/wv/resources/1033/FavIcon_Word.ico"
    assert parsed("collabora").favicons == {
        "writer": "http://collabora.test:9980/browser/61cf2b4/images/x-office-document.svg",
        "calc": "http://collabora.test:9980/browser/61cf2b4/images/x-office-spreadsheet.svg",
        "impress": "http://collabora.test:9980/browser/61cf2b4/images/x-office-presentation.svg",
    }
    assert parsed("onlyoffice").favicons["Excel"] == \
        "https://test.server.prv/web-apps/apps/spreadsheeteditor/main/resources/img/favicon.ico"
    with pytest.raises(TypeError):
        parsed("onlyoffice").favicons["Excel"] = "https://evil.example/x.ico"  # type: ignore[index]


# -- proof keys ----------------------------------------------------------------------------------------


def test_collabora_without_proof_key() -> None:
    discovery = parsed("collabora")
    assert discovery.proof_key is None and discovery.old_proof_key is None


def test_microsoft_keys_are_those_of_microsofts_test_vectors() -> None:
    discovery = parsed("microsoft365")
    assert discovery.proof_key == ProofKey.from_modulus_exponent(ms.DISCOVERY_MODULUS, ms.DISCOVERY_EXPONENT)
    assert discovery.old_proof_key == ProofKey.from_modulus_exponent(ms.DISCOVERY_OLD_MODULUS,
                                                                     ms.DISCOVERY_OLD_EXPONENT)


@pytest.mark.parametrize("name", ["microsoft365", "onlyoffice", "validator"])
def test_value_blob_and_modulus_exponent_agree(name: str) -> None:
    # Each document publishes every key twice (CSP blob and modulus/exponent): both parse alike.
    element = re.search(rb"<proof-key\s[^>]*>", document(name), re.DOTALL)
    assert element is not None
    attributes = dict(re.findall(r'(\w+)="([^"]*)"', element.group(0).decode()))
    for prefix, key in (("", parsed(name).proof_key), ("old", parsed(name).old_proof_key)):
        assert key is not None
        assert ProofKey.from_csp_blob(attributes[f"{prefix}value"]) == key
        assert key.exponent == 65537 and key.modulus.bit_length() == 2048


def test_onlyoffice_publishes_one_key_twice() -> None:
    discovery = parsed("onlyoffice")
    assert discovery.proof_key is not None and discovery.proof_key == discovery.old_proof_key


def test_validator_keys_are_its_proofkeys_json() -> None:
    if not PROOF_KEYS.exists():
        pytest.skip(f"no {PROOF_KEYS}")
    keys = json.loads(PROOF_KEYS.read_text())
    discovery = parsed("validator")
    assert discovery.proof_key == ProofKey(int(keys["current"]["n"], 16), int(keys["current"]["e"], 16))
    assert discovery.old_proof_key == ProofKey(int(keys["old"]["n"], 16), int(keys["old"]["e"], 16))


def test_value_alone_is_enough() -> None:
    # A producer that publishes only the CSP blobs (value/oldvalue) is understood too.
    only_blobs = re.sub(rb'\s(old)?(modulus|exponent)="[^"]*"', b"", document("validator"))
    assert b"modulus" not in only_blobs
    discovery = parse_discovery(only_blobs)
    assert discovery.proof_key == parsed("validator").proof_key
    assert discovery.old_proof_key == parsed("validator").old_proof_key


@pytest.mark.parametrize("attributes", [
    'value="not base64!" modulus="" exponent=""',
    'value="BgIAAACkAABSU0ExAAgAAAEAAQD/" modulus="" exponent=""',  # truncated blob
    'value="" modulus="AQAB" exponent="AQAB"',  # a 17-bit "modulus"
    'value="" modulus="%%%" exponent="AQAB"',
])
def test_a_broken_proof_key_is_an_error_not_no_key(attributes: str) -> None:
    # Silently treating it as "no key" would switch proof checks off for an if-advertised editor.
    xml = (b'<wopi-discovery><net-zone name="external-http"><app name="Word">'
           b'<action name="view" ext="docx" urlsrc="https://e.example/v?"/></app></net-zone>'
           b"<proof-key " + attributes.encode() + b"/></wopi-discovery>")
    with pytest.raises(DiscoveryError, match="proof-key"):
        parse_discovery(xml)


# -- net zones -----------------------------------------------------------------------------------------


def _zones(*zones: tuple[str | None, str]) -> bytes:
    body = "".join(
        (f'<net-zone name="{name}">' if name is not None else "<net-zone>")
        + f'<app name="Word"><action name="view" ext="docx" urlsrc="{url}"/></app></net-zone>'
        for name, url in zones)
    return f"<wopi-discovery>{body}</wopi-discovery>".encode()


@pytest.mark.parametrize(("zones", "expected"), [
    ([("internal-http", "https://ih/"), ("external-https", "https://es/"), ("external-http", "https://eh/")],
     "https://es/"),
    ([("internal-http", "https://ih/"), ("external-http", "https://eh/")], "https://eh/"),
    ([("internal-http", "https://ih/"), ("internal-https", "https://is/")], "https://is/"),
    ([(None, "https://nameless/"), ("internal-http", "https://ih/")], "https://ih/"),
    ([(None, "https://nameless/")], "https://nameless/"),
])
def test_zone_preference(zones: list[tuple[str | None, str]], expected: str) -> None:
    chosen = choose_action(parse_discovery(_zones(*zones)), "docx", want_edit=False)
    assert chosen is not None and chosen.urlsrc == expected


def test_an_empty_preferred_zone_does_not_hide_the_others() -> None:
    xml = (b'<wopi-discovery><net-zone name="external-https"/>'
           b'<net-zone name="internal-http"><app name="Word">'
           b'<action name="view" ext="docx" urlsrc="https://ih/"/></app></net-zone></wopi-discovery>')
    assert parse_discovery(xml).actions[0].zone == "internal-http"


# -- hostile and broken documents --------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<wopi-discovery><net-zone name="external-http"><app name="&lol9;">
<action name="view" ext="docx" urlsrc="https://e.example/v?"/></app></net-zone></wopi-discovery>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE wopi-discovery [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<wopi-discovery><net-zone name="external-http"><app name="&secret;">
<action name="view" ext="docx" urlsrc="https://e.example/v?"/></app></net-zone></wopi-discovery>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_attacks_are_refused_at_once(xml: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(DiscoveryError, match="refused XML"):
        parse_discovery(xml)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(("xml", "message"), [
    (b"", "not well-formed"),
    (b"<wopi-discovery><net-zone>", "not well-formed"),
    (b"<html><body>Bad Gateway</body></html>", "not <wopi-discovery>"),
    (b'{"wopi-discovery": []}', "not well-formed"),
    (b"<wopi-discovery/>", "no action"),
    (b'<wopi-discovery><net-zone name="external-http"><app name="Word"/></net-zone></wopi-discovery>',
     "no action"),
    # Collabora's template before coolwsd fills in the URLs: actions without urlsrc are unusable.
    ((b'<wopi-discovery><net-zone name="external-http"><app name="writer">'
      b'<action name="edit" ext="odt" default="true"/></app></net-zone></wopi-discovery>'), "no action"),
])
def test_malformed_documents(xml: bytes, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        parse_discovery(xml)


def test_a_truncated_real_document_is_malformed() -> None:
    with pytest.raises(DiscoveryError, match="not well-formed"):
        parse_discovery(document("microsoft365")[:50_000])


def test_leading_whitespace_is_tolerated() -> None:
    # The oCIS copy of ONLYOFFICE's document arrived with a newline before <?xml.
    assert parse_discovery(b"\n  " + document("onlyoffice")) == parsed("onlyoffice")


def _with_actions(count: int) -> bytes:
    """A document of exactly `count` + 3 elements (the root, a zone, an app, the actions)."""
    actions = b"".join(b'<action name="edit" ext="x%d" urlsrc="https://e.example/x?"/>' % n for n in range(count))
    return b'<wopi-discovery><net-zone name="external-http"><app name="w">' + actions + b"</app></net-zone></wopi-discovery>"


def test_a_document_of_as_many_elements_as_allowed_is_parsed() -> None:
    assert len(parse_discovery(_with_actions(MAX_ELEMENTS - 3)).actions) == MAX_ELEMENTS - 3


def test_a_document_of_more_elements_than_allowed_is_refused() -> None:
    with pytest.raises(DiscoveryError, match=f"more than {MAX_ELEMENTS} elements"):
        parse_discovery(_with_actions(MAX_ELEMENTS - 2))


@pytest.mark.parametrize("name", ["collabora", "microsoft365", "onlyoffice", "validator"])
def test_real_documents_are_far_below_the_element_cap(name: str) -> None:
    assert document(name).count(b"<") - document(name).count(b"</") < MAX_ELEMENTS // 10
