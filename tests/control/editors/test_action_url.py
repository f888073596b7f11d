"""action_url on the products' real urlsrc values: exact URLs, as [MS-REST online/discovery]
"Action URLs" has a host build them."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from control.editors.discovery import Action, Discovery, action_url, choose_action
from tests.control.editors.support import DOCUMENTS, parsed

WOPI_SRC = "https://wopi.example.com/wopi/files/abc"
ENCODED = "https%3A%2F%2Fwopi.example.com%2Fwopi%2Ffiles%2Fabc"


def _action(discovery: Discovery, name: str, ext: str, app: str | None = None) -> Action:
    found = [a for a in discovery.actions
             if a.name == name and a.ext == ext and (app is None or a.app == app)]
    assert found, (name, ext)
    return found[0]


# -- Microsoft 365 for the web ---------------------------------------------------------------------------


def test_microsoft_word_edit_with_defaults() -> None:
    # urlsrc: wordeditorframe.aspx?<ui=UI_LLCC&><rs=DC_LLCC&><dchat=DISABLE_CHAT&><hid=HOST_SESSION_ID&>
    #   <sc=SESSION_CONTEXT&><wopisrc=WOPI_SOURCE&><showpagestats=PERFSTATS&>
    #   <IsLicensedUser=BUSINESS_USER&><actnavid=ACTIVITY_NAVIGATION_ID&>
    edit = choose_action(parsed("microsoft365"), "docx", want_edit=True)
    assert edit is not None
    assert action_url(edit, wopi_src=WOPI_SRC) == (
        "https://FFC-word-edit.officeapps.live.com/we/wordeditorframe.aspx"
        f"?ui=en-US&rs=en-US&wopisrc={ENCODED}&IsLicensedUser=0")


def test_microsoft_word_edit_with_every_option() -> None:
    edit = choose_action(parsed("microsoft365"), "docx", want_edit=True)
    assert edit is not None
    url = action_url(edit, wopi_src=WOPI_SRC, language="de-DE", data_language="de-CH", business_user=True,
                     disable_chat=True, host_session_id="hs 1", session_context="ctx/2",
                     values={"PERFSTATS": "1", "ACTIVITY_NAVIGATION_ID": "nav"})
    assert url == (
        "https://FFC-word-edit.officeapps.live.com/we/wordeditorframe.aspx"
        f"?ui=de-DE&rs=de-CH&dchat=1&hid=hs%201&sc=ctx%2F2&wopisrc={ENCODED}&showpagestats=1"
        "&IsLicensedUser=1&actnavid=nav")


def test_microsoft_powerpoint_view_keeps_its_literal_parameter() -> None:
    view = choose_action(parsed("microsoft365"), "pptx", want_edit=False)
    assert view is not None
    assert action_url(view, wopi_src=WOPI_SRC, language="fr-FR") == (
        "https://FFC-powerpoint.officeapps.live.com/p/PowerPointFrame.aspx"
        f"?PowerPointView=ReadingView&ui=fr-FR&rs=fr-FR&wopisrc={ENCODED}&IsLicensedUser=0")


def test_microsoft_broadcast_placeholders_only_when_asked() -> None:
    # "present": Presenter.aspx?a=0&<e=EMBEDDED&><fs=FULLSCREEN&><rec=RECORDING&><thm=THEME_ID&>...
    present = _action(parsed("microsoft365"), "present", "pptx")
    assert action_url(present, wopi_src=WOPI_SRC) == (
        "https://FFC-broadcast.officeapps.live.com/m/Presenter.aspx"
        f"?a=0&ui=en-US&rs=en-US&wopisrc={ENCODED}")
    assert action_url(present, wopi_src=WOPI_SRC, embedded=True, fullscreen=True, recording=True,
                      theme_id=2) == (
        "https://FFC-broadcast.officeapps.live.com/m/Presenter.aspx"
        f"?a=0&e=true&fs=true&rec=true&thm=2&ui=en-US&rs=en-US&wopisrc={ENCODED}")


def test_microsoft_placeholder_without_ampersand_and_no_wopi_source() -> None:
    # "preloadedit": StaticLoad.aspx?wx=w&wv=e&usescript=1&<ui=UI_LLCC> (no "&" inside, no wopisrc)
    preload = _action(parsed("microsoft365"), "preloadedit", "docx")
    assert action_url(preload, wopi_src=WOPI_SRC) == (
        "https://FFC-word-edit.officeapps.live.com/we/StaticLoad.aspx"
        f"?wx=w&wv=e&usescript=1&ui=en-US&WOPISrc={ENCODED}")


def test_microsoft_wopitest_frame_with_the_validator_category() -> None:
    view = choose_action(parsed("microsoft365"), "wopitest", want_edit=False)
    assert view is not None
    assert action_url(view, wopi_src=WOPI_SRC, values={"VALIDATOR_TEST_CATEGORY": "OfficeOnline"}) == (
        "https://FFC-onenote.officeapps.live.com/hosting/WopiTestFrame.aspx"
        f"?ui=en-US&rs=en-US&wopisrc={ENCODED}&IsLicensedUser=0&testcategory=OfficeOnline")


# -- ONLYOFFICE ---------------------------------------------------------------------------------------------


def test_onlyoffice_edit_cleans_its_leading_and_trailing_ampersands() -> None:
    # urlsrc: .../word/edit?&<rs=DC_LLCC&><dchat=DISABLE_CHAT&><embed=EMBEDDED&><fs=FULLSCREEN&>
    #   <hid=HOST_SESSION_ID&><rec=RECORDING&><sc=SESSION_CONTEXT&><thm=THEME_ID&><ui=UI_LLCC&>
    #   <wopisrc=WOPI_SOURCE&>&
    edit = choose_action(parsed("onlyoffice"), "docx", want_edit=True)
    assert edit is not None
    assert action_url(edit, wopi_src=WOPI_SRC) == (
        f"https://test.server.prv/hosting/wopi/word/edit?rs=en-US&ui=en-US&wopisrc={ENCODED}")
    assert action_url(edit, wopi_src=WOPI_SRC, language="it-IT", disable_chat=True, embedded=True,
                      theme_id=1, session_context="s") == (
        "https://test.server.prv/hosting/wopi/word/edit"
        f"?rs=it-IT&dchat=1&embed=true&sc=s&thm=1&ui=it-IT&wopisrc={ENCODED}")


def test_onlyoffice_embedview_and_convert() -> None:
    discovery = parsed("onlyoffice")
    assert action_url(_action(discovery, "embedview", "docx"), wopi_src=WOPI_SRC) == (
        f"https://test.server.prv/hosting/wopi/word/view?embed=1&rs=en-US&ui=en-US&wopisrc={ENCODED}")
    assert action_url(_action(discovery, "convert", "xls"), wopi_src=WOPI_SRC) == (
        "https://test.server.prv/hosting/wopi/convert-and-edit/xls/xlsx"
        f"?rs=en-US&ui=en-US&wopisrc={ENCODED}")


# -- Collabora Online ----------------------------------------------------------------------------------------


def test_collabora_gets_wopisrc_appended() -> None:
    # urlsrc "http://collabora.test:9980/browser/61cf2b4/cool.html?" has no placeholder at all.
    edit = choose_action(parsed("collabora"), "docx", want_edit=True)
    assert edit is not None
    assert action_url(edit, wopi_src=WOPI_SRC, language="de-DE", business_user=True) == (
        f"http://collabora.test:9980/browser/61cf2b4/cool.html?WOPISrc={ENCODED}")


# -- the validator ------------------------------------------------------------------------------------


def test_validator_view() -> None:
    view = choose_action(parsed("validator"), "docx", want_edit=False)
    assert view is not None
    assert action_url(view, wopi_src=WOPI_SRC, host_session_id="h") == (
        f"https://wopi-validator.invalid/wv/wordviewerframe.aspx?ui=en-US&rs=en-US&hid=h&wopisrc={ENCODED}")


# -- WOPISrc and the access token ---------------------------------------------------------------------------


def test_wopisrc_is_encoded_whole() -> None:
    edit = choose_action(parsed("collabora"), "odt", want_edit=True)
    assert edit is not None
    url = action_url(edit, wopi_src="https://h.example:8443/wopi/files/a%20b?tenant=t1&x=é")
    assert url.endswith(
        "?WOPISrc=https%3A%2F%2Fh.example%3A8443%2Fwopi%2Ffiles%2Fa%2520b%3Ftenant%3Dt1%26x%3D%C3%A9")
    wopisrc = dict(parse_qsl(urlsplit(url).query))["WOPISrc"]
    assert wopisrc == "https://h.example:8443/wopi/files/a%20b?tenant=t1&x=é"


@pytest.mark.parametrize("wopi_src", [
    "https://wopi.example.com/wopi/files/abc?access_token=secret",
    "https://wopi.example.com/wopi/files/abc?a=1&ACCESS_TOKEN=secret",
    "/wopi/files/abc",
    "ftp://wopi.example.com/wopi/files/abc",
    "",
])
def test_refuses_a_wopisrc_that_is_relative_or_carries_a_token(wopi_src: str) -> None:
    edit = choose_action(parsed("microsoft365"), "docx", want_edit=True)
    assert edit is not None
    with pytest.raises(ValueError):
        action_url(edit, wopi_src=wopi_src)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_action_of_every_document_gives_a_clean_url(name: str) -> None:
    for action in parsed(name).actions:
        url = action_url(action, wopi_src=WOPI_SRC, business_user=True, disable_chat=True)
        query = urlsplit(url).query
        assert "<" not in url and ">" not in url, url
        assert "?&" not in url and "&&" not in url and not url.endswith(("&", "?")), url
        assert "access_token" not in url.lower(), url
        params = parse_qsl(query, keep_blank_values=True)
        assert all(value for _, value in params), url  # no "name=" left without a value
        wopisrc = [v for k, v in params if k.lower() == "wopisrc"]
        assert wopisrc == [WOPI_SRC], url
