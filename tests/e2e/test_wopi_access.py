"""Who may touch which file: tokens are bound to one session, one file, one tenant."""

from __future__ import annotations

import httpx

from tests.support.api import ControlApi, new_tenant, open_file, session_pb


def test_missing_token_is_401(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert http.get(f.wopi_src).status_code == 401


def test_wrong_token_is_401(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert http.get(f.url(token="not-a-token")).status_code == 401
    assert http.get(f.url("/contents", token="not-a-token")).status_code == 401


def test_token_in_authorization_header_is_accepted(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert http.get(f.wopi_src, headers={"Authorization": f"Bearer {f.token}"}).status_code == 200


def test_closed_session_token_is_401_at_once(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert http.get(f.url()).status_code == 200
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    assert http.get(f.url()).status_code == 401


def test_token_of_one_session_cannot_read_another_sessions_file(api: ControlApi, tenant, http: httpx.Client) -> None:
    mine = open_file(api, *tenant, "mine.docx", b"mine")
    other = open_file(api, *tenant, "other.docx", b"secret")
    assert http.get(other.url(token=mine.token)).status_code == 401
    assert http.get(other.url("/contents", token=mine.token)).status_code == 401
    put = http.post(other.url("/contents", token=mine.token), content=b"x", headers={"X-WOPI-Override": "PUT"})
    assert put.status_code == 401
    assert other.local_path.read_bytes() == b"secret"


def test_token_of_one_tenant_finds_another_tenants_file_as_missing(api: ControlApi, tmp_path, http: httpx.Client) -> None:
    acme = open_file(api, *new_tenant(api, tmp_path / "a"), "x.docx", b"acme")
    globex = open_file(api, *new_tenant(api, tmp_path / "g"), "x.docx", b"globex")
    assert http.get(globex.url("/contents", token=acme.token)).status_code == 404
    assert http.get(acme.url("/contents", token=globex.token)).status_code == 404


def test_unknown_file_id_is_404(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    url = f.wopi_src.rsplit("/", 1)[0] + "/NoSuchFileId123?access_token=" + f.token
    assert http.get(url).status_code == 404


def test_huge_file_id_is_404_not_a_crash(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    url = f.wopi_src.rsplit("/", 1)[0] + "/" + "x" * 5000 + "?access_token=" + f.token
    assert http.get(url).status_code == 404


def test_two_sessions_on_one_file_share_file_id_and_wopisrc_but_not_tokens(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    first = open_file(api, *tenant, "shared.docx")
    second = open_file(api, *tenant, "shared.docx", content=None, user_id="u2")
    assert first.file_id == second.file_id
    assert first.wopi_src == second.wopi_src
    assert first.token != second.token
    assert http.get(second.url()).json()["UserId"] == "u2"


def test_the_same_path_in_another_tenant_is_another_file(api: ControlApi, tmp_path) -> None:
    a = open_file(api, *new_tenant(api, tmp_path / "a"), "same.docx")
    b = open_file(api, *new_tenant(api, tmp_path / "b"), "same.docx")
    assert a.file_id != b.file_id
