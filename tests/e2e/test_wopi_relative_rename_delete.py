"""PutRelativeFile, RenameFile, DeleteFile, PutUserInfo, GetShareUrl and the CheckFileInfo
capabilities that advertise them (rest/files/putrelativefile, renamefile, deletefile,
putuserinfo, getshareurl; rest/files/checkfileinfo).

File names travel UTF-7 encoded in headers and come back UTF-8 in JSON answers.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from edge.wopi.free_names import MAX_NAME_ATTEMPTS
from shared.storage import check_file_name
from tests.support.api import LOCK, ControlApi, OpenFile, error_reason, lock, open_file, put, session_pb
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc

WRONG_LOCK = "someone-elses-lock"


def _op(http: httpx.Client, f: OpenFile, override: str, body: bytes = b"", **headers: Any) -> httpx.Response:
    """A POST /wopi/files/{id} operation; header names use '_' for '-' (X_WOPI_Lock)."""
    sent = {"X-WOPI-Override": override, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return http.post(f.url(), content=body, headers=sent)


def _put_relative(
    http: httpx.Client, f: OpenFile, body: bytes = b"saved as", **headers: Any
) -> httpx.Response:
    return _op(http, f, "PUT_RELATIVE", body, X_WOPI_Size=str(len(body)), **headers)


def _utf7(name: str) -> str:
    """As editors send names in headers."""
    return name.encode("utf-7").decode("ascii")


def _rename(http: httpx.Client, f: OpenFile, requested: Any, lock_id: str | None = None) -> httpx.Response:
    headers = {"X_WOPI_RequestedName": requested}
    if lock_id is not None:
        headers["X_WOPI_Lock"] = lock_id
    return _op(http, f, "RENAME_FILE", **headers)


def _info(http: httpx.Client, f: OpenFile) -> dict:
    reply = http.get(f.url())
    assert reply.status_code == 200, reply.text
    return reply.json()


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["access_token"][0]


def _files(api: ControlApi) -> file_grpc.FileServiceStub:
    return file_grpc.FileServiceStub(api.channel)


def _versions(api: ControlApi, tenant_id: str, file_id: str) -> list[file_pb.FileVersion]:
    request = file_pb.ListFileVersionsRequest(tenant_id=tenant_id, file_id=file_id)
    return list(api.call(_files(api).ListFileVersions, request).versions)


def _restore(api: ControlApi, tenant_id: str, file_id: str, version: int) -> file_pb.File:
    request = file_pb.RestoreFileVersionRequest(tenant_id=tenant_id, file_id=file_id, version=version)
    return api.call(_files(api).RestoreFileVersion, request)


# --- PutRelativeFile: suggested mode ----------------------------------------------------------


def test_suggested_extension_only_is_combined_with_the_current_name(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "reports/q1.docx")
    reply = _put_relative(http, f, b"%PDF-1.7", X_WOPI_SuggestedTarget=".pdf")
    assert reply.status_code == 200
    assert reply.json()["Name"] == "q1.pdf"
    assert (f.local_path.parent / "q1.pdf").read_bytes() == b"%PDF-1.7"


def test_suggested_name_of_an_existing_file_gets_a_free_name_with_the_same_extension(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "q1.docx")
    existing = f.local_path.parent / "taken.docx"
    existing.write_bytes(b"do not overwrite")
    reply = _put_relative(http, f, b"copy", X_WOPI_SuggestedTarget="taken.docx")
    assert reply.status_code == 200
    name = reply.json()["Name"]
    assert name != "taken.docx" and name.endswith(".docx")
    assert existing.read_bytes() == b"do not overwrite"
    assert (f.local_path.parent / name).read_bytes() == b"copy"


def test_suggested_name_with_a_path_keeps_only_the_name(api: ControlApi, tenant, http: httpx.Client) -> None:
    # Collabora's Save As sends "/path/to/name.pdf" (CollaboraOnline/online#3791).
    f = open_file(api, *tenant, "q1.docx")
    reply = _put_relative(http, f, b"pdf", X_WOPI_SuggestedTarget="/path/to/hello+ACU-20world.pdf")
    assert reply.status_code == 200
    assert reply.json()["Name"] == "hello%20world.pdf"
    assert (f.local_path.parent / "hello%20world.pdf").read_bytes() == b"pdf"


@pytest.mark.parametrize("suggested", ["..pdf", ".~lock.src.docx#"], ids=["dotdot-ext", "libreoffice-lock"])
def test_suggested_name_is_never_one_relative_mode_refuses(
    api: ControlApi, tenant, http: httpx.Client, suggested: str
) -> None:
    # ".~lock.src.docx#" is LibreOffice's lock file of src.docx: desktop users would see it locked.
    f = open_file(api, *tenant, "src.docx")
    reply = _put_relative(http, f, X_WOPI_SuggestedTarget=suggested)
    assert reply.status_code == 200, reply.text
    name = reply.json()["Name"]
    assert check_file_name(name) == name
    assert not (f.local_path.parent / suggested).exists()


def test_suggested_name_too_long_in_utf8_is_cut_to_255_bytes_keeping_the_extension(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "src.docx")
    reply = _put_relative(http, f, b"copy", X_WOPI_SuggestedTarget=_utf7("é" * 300 + ".docx"))
    assert reply.status_code == 200, reply.text
    name = reply.json()["Name"]
    assert name == "é" * 125 + ".docx"  # 255 bytes
    assert (f.local_path.parent / name).read_bytes() == b"copy"


def test_suggested_name_with_a_lone_surrogate_gets_it_dropped(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "src.docx")
    reply = _put_relative(http, f, b"copy", X_WOPI_SuggestedTarget="a+2AA-b.docx")  # "a\ud800b.docx"
    assert reply.status_code == 200, reply.text
    assert reply.json()["Name"] == "ab.docx"
    assert (f.local_path.parent / "ab.docx").read_bytes() == b"copy"


# --- PutRelativeFile: relative (exact) mode ---------------------------------------------------


def test_relative_target_creates_exactly_that_utf7_decoded_name(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "cv.docx")
    reply = _put_relative(http, f, b"new cv", X_WOPI_RelativeTarget="r+AOk-sum+AOk-.docx")
    assert reply.status_code == 200
    assert reply.json()["Name"] == "résumé.docx"
    assert (f.local_path.parent / "résumé.docx").read_bytes() == b"new cv"


def test_relative_file_url_carries_a_token_for_the_new_file_only(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    url = _put_relative(http, f, b"new file", X_WOPI_RelativeTarget="target.docx").json()["Url"]
    assert "access_token=" in url
    info = http.get(url)
    assert info.status_code == 200
    assert info.json()["BaseFileName"] == "target.docx"
    assert info.json()["Size"] == len(b"new file")
    assert http.get(f.url(token=_token_of(url))).status_code == 401


def test_existing_relative_target_without_overwrite_is_409_with_a_free_valid_target(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    existing = f.local_path.parent / "exists.docx"
    existing.write_bytes(b"keep me")
    reply = _put_relative(http, f, b"refused", X_WOPI_RelativeTarget="exists.docx")
    assert reply.status_code == 409
    valid = reply.headers["X-WOPI-ValidRelativeTarget"].encode("ascii").decode("utf-7")
    assert valid != "exists.docx" and valid.endswith(".docx")
    assert valid not in _names(f.local_path.parent)
    assert existing.read_bytes() == b"keep me"


def test_valid_relative_target_is_utf7_encoded(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "source.docx")
    (f.local_path.parent / "café.docx").write_bytes(b"keep me")
    reply = _put_relative(http, f, b"refused", X_WOPI_RelativeTarget="caf+AOk-.docx")
    assert reply.status_code == 409
    raw = reply.headers["X-WOPI-ValidRelativeTarget"]
    assert raw.isascii()
    assert raw.encode("ascii").decode("utf-7").startswith("café")


def test_existing_relative_target_with_overwrite_is_replaced(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    existing = f.local_path.parent / "replace.docx"
    existing.write_bytes(b"old target")
    reply = _put_relative(http, f, b"new target", X_WOPI_RelativeTarget="replace.docx",
                          X_WOPI_OverwriteRelativeTarget="true")
    assert reply.status_code == 200
    assert reply.json()["Name"] == "replace.docx"
    assert existing.read_bytes() == b"new target"


def test_overwriting_a_known_relative_target_keeps_its_previous_content_as_a_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    target = open_file(api, *tenant, "known.docx", b"old target")
    reply = _put_relative(http, f, b"new target", X_WOPI_RelativeTarget="known.docx",
                          X_WOPI_OverwriteRelativeTarget="true")
    assert reply.status_code == 200
    assert http.get(target.url("/contents")).content == b"new target"
    [kept] = _versions(api, target.tenant_id, target.file_id)
    _restore(api, target.tenant_id, target.file_id, kept.version)
    assert http.get(target.url("/contents")).content == b"old target"
    assert kept.size == len(b"old target")
    # The hash is only recorded for bytes written through wopi-proxy; unknown is empty, never wrong.
    assert kept.sha256 in ("", hashlib.sha256(b"old target").hexdigest())


def test_overwriting_a_relative_target_unknown_to_wopi_proxy_keeps_its_previous_content_as_a_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    (f.local_path.parent / "unknown.docx").write_bytes(b"old target")
    reply = _put_relative(http, f, b"new target", X_WOPI_RelativeTarget="unknown.docx",
                          X_WOPI_OverwriteRelativeTarget="true")
    assert reply.status_code == 200
    new_file_id = urlsplit(reply.json()["Url"]).path.rsplit("/", 1)[-1]
    kept = _versions(api, f.tenant_id, new_file_id)
    assert [v.size for v in kept] == [len(b"old target")]


def test_overwrite_of_a_locked_relative_target_is_409_with_its_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    target = open_file(api, *tenant, "locked-target.docx", b"in use", user_id="u2")
    lock(http, target, "target-lock")
    reply = _put_relative(http, f, b"refused", X_WOPI_RelativeTarget="locked-target.docx",
                          X_WOPI_OverwriteRelativeTarget="true")
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == "target-lock"
    assert target.local_path.read_bytes() == b"in use"


def test_both_target_headers_are_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "source.docx")
    reply = _put_relative(http, f, X_WOPI_SuggestedTarget=".pdf", X_WOPI_RelativeTarget="x.pdf")
    assert reply.status_code == 400
    assert _names(f.local_path.parent) == {"source.docx"}


def test_neither_target_header_is_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "source.docx")
    assert _put_relative(http, f).status_code == 400
    assert _names(f.local_path.parent) == {"source.docx"}


@pytest.mark.parametrize("name", ["sub/evil.docx", "sub\\evil.docx"], ids=["slash", "backslash"])
def test_relative_target_with_a_path_separator_is_400_with_a_valid_target(
    api: ControlApi, tenant, http: httpx.Client, name: str
) -> None:
    f = open_file(api, *tenant, "source.docx")
    reply = _put_relative(http, f, X_WOPI_RelativeTarget=name)
    assert reply.status_code == 400
    valid = reply.headers["X-WOPI-ValidRelativeTarget"].encode("ascii").decode("utf-7")
    assert "/" not in valid and "\\" not in valid and valid.endswith(".docx")
    assert _names(f.local_path.parent) == {"source.docx"}


@pytest.mark.parametrize("raw", [b"+ZZZ!.docx", b"caf\xe9.docx"], ids=["bad-utf7", "non-ascii-byte"])
def test_relative_target_that_is_not_utf7_is_400(
    api: ControlApi, tenant, http: httpx.Client, raw: bytes
) -> None:
    f = open_file(api, *tenant, "source.docx")
    assert _put_relative(http, f, X_WOPI_RelativeTarget=raw).status_code == 400
    assert _names(f.local_path.parent) == {"source.docx"}


@pytest.mark.parametrize("target", [_utf7("é" * 200 + ".docx"), "a+2AA-b.docx", "a+3IA-b.docx"],
                         ids=["over-255-bytes", "high-surrogate", "low-surrogate"])
def test_relative_target_that_cannot_be_stored_is_400_with_a_valid_target(
    api: ControlApi, tenant, http: httpx.Client, target: str
) -> None:
    f = open_file(api, *tenant, "source.docx")
    reply = _put_relative(http, f, X_WOPI_RelativeTarget=target)
    assert reply.status_code == 400, reply.text
    valid = reply.headers["X-WOPI-ValidRelativeTarget"].encode("ascii").decode("utf-7")
    assert check_file_name(valid) == valid and valid.endswith(".docx")
    assert _names(f.local_path.parent) == {"source.docx"}


def test_a_view_session_cannot_put_relative_file(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "viewed.docx", permission=session_pb.PERMISSION_VIEW)
    assert _put_relative(http, f, X_WOPI_SuggestedTarget=".pdf").status_code == 401
    assert _names(f.local_path.parent) == {"viewed.docx"}


# --- RenameFile -------------------------------------------------------------------------------


def test_rename_keeps_the_extension_and_the_file_id(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "old name.docx", b"content")
    reply = _rename(http, f, "new name")
    assert reply.status_code == 200
    assert reply.json() == {"Name": "new name"}
    assert _info(http, f)["BaseFileName"] == "new name.docx"  # same WOPISrc, same file id
    assert http.get(f.url("/contents")).content == b"content"
    assert _names(f.local_path.parent) == {"new name.docx"}
    shown = api.call(_files(api).GetFile, file_pb.GetFileRequest(tenant_id=f.tenant_id, file_id=f.file_id))
    assert shown.path == "new name.docx"


def test_rename_decodes_utf7(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "cv.docx")
    reply = _rename(http, f, "r+AOk-sum+AOk-")
    assert reply.status_code == 200
    assert reply.json()["Name"] == "résumé"
    assert _info(http, f)["BaseFileName"] == "résumé.docx"


def test_rename_to_a_name_with_a_slash_is_400_with_the_reason(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "stay.docx")
    reply = _rename(http, f, "../escape")
    assert reply.status_code == 400
    assert reply.headers.get("X-WOPI-InvalidFileNameError", "").strip()
    assert _info(http, f)["BaseFileName"] == "stay.docx"
    assert _names(f.local_path.parent) == {"stay.docx"}


def _fill_numbered(folder: Path, name: str, up_to: int) -> None:
    """`name` and its numbered names (2) .. (up_to) taken, as a tenant's folder of copies may be."""
    stem, ext = name.rsplit(".", 1)
    (folder / name).write_bytes(b"taken")
    for n in range(2, up_to + 1):
        (folder / f"{stem} ({n}).{ext}").write_bytes(b"taken")


def test_rename_to_a_taken_name_gets_the_last_numbered_name_tried(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "stay.docx")
    _fill_numbered(f.local_path.parent, "busy.docx", MAX_NAME_ATTEMPTS - 1)
    reply = _rename(http, f, "busy")
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"Name": f"busy ({MAX_NAME_ATTEMPTS})"}


def test_rename_when_every_numbered_name_tried_is_taken_is_400_and_renames_nothing(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    """Each name tried is a storage call: a folder full of copies must not make one rename cost thousands."""
    f = open_file(api, *tenant, "stay.docx")
    _fill_numbered(f.local_path.parent, "busy.docx", MAX_NAME_ATTEMPTS)
    before = _names(f.local_path.parent)
    reply = _rename(http, f, "busy")
    assert reply.status_code == 400, reply.text
    assert "taken" in reply.headers.get("X-WOPI-InvalidFileNameError", "")
    assert _names(f.local_path.parent) == before
    assert _info(http, f)["BaseFileName"] == "stay.docx"


def test_suggested_name_when_every_numbered_name_tried_is_taken_is_409_and_creates_nothing(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "source.docx")
    _fill_numbered(f.local_path.parent, "busy.docx", MAX_NAME_ATTEMPTS)
    before = _names(f.local_path.parent)
    reply = _put_relative(http, f, X_WOPI_SuggestedTarget="busy.docx")
    assert reply.status_code == 409, reply.text
    assert _names(f.local_path.parent) == before


@pytest.mark.parametrize("requested", [_utf7("é" * 200), "a+2AA-b", "a+3IA-b"],
                         ids=["over-255-bytes", "high-surrogate", "low-surrogate"])
def test_rename_to_a_name_that_cannot_be_stored_is_400_with_the_reason(
    api: ControlApi, tenant, http: httpx.Client, requested: str
) -> None:
    f = open_file(api, *tenant, "stay.docx")
    reply = _rename(http, f, requested)
    assert reply.status_code == 400, reply.text
    assert reply.headers.get("X-WOPI-InvalidFileNameError", "").strip()
    assert _names(f.local_path.parent) == {"stay.docx"}


def test_rename_of_a_locked_file_with_a_wrong_lock_is_409(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "locked.docx")
    lock(http, f)
    reply = _rename(http, f, "renamed", lock_id=WRONG_LOCK)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK
    assert _info(http, f)["BaseFileName"] == "locked.docx"


def test_rename_of_a_locked_file_with_its_lock_succeeds(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "locked.docx")
    lock(http, f)
    assert _rename(http, f, "renamed", lock_id=LOCK).status_code == 200
    assert _info(http, f)["BaseFileName"] == "renamed.docx"


def test_a_view_session_cannot_rename(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "viewed.docx", permission=session_pb.PERMISSION_VIEW)
    assert _rename(http, f, "renamed").status_code == 401
    assert _names(f.local_path.parent) == {"viewed.docx"}


# --- DeleteFile -------------------------------------------------------------------------------


def test_delete_of_a_locked_file_is_409_with_the_lock(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "locked.docx", b"still here")
    lock(http, f)
    reply = _op(http, f, "DELETE")
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK
    assert f.local_path.read_bytes() == b"still here"


def test_deleted_file_is_404_and_its_content_is_kept_as_a_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "doomed.docx", b"last words")
    assert _op(http, f, "DELETE").status_code == 200
    assert http.get(f.url()).status_code == 404
    assert not f.local_path.exists()
    kept = _versions(api, f.tenant_id, f.file_id)
    assert [(v.reason, v.size) for v in kept] == [("delete", len(b"last words"))]


def test_a_deleted_file_is_restored_at_its_path_with_its_file_id(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "doomed.docx", b"last words")
    assert _op(http, f, "DELETE").status_code == 200
    [kept] = _versions(api, f.tenant_id, f.file_id)
    _restore(api, f.tenant_id, f.file_id, kept.version)
    assert f.local_path.read_bytes() == b"last words"
    assert http.get(f.url("/contents")).content == b"last words"


def test_a_deleted_file_is_not_restored_over_a_new_file_at_its_path(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "doomed.docx", b"last words")
    assert _op(http, f, "DELETE").status_code == 200
    f.local_path.write_bytes(b"a new file took the name")
    [kept] = _versions(api, f.tenant_id, f.file_id)
    with pytest.raises(grpc.RpcError) as refused:
        _restore(api, f.tenant_id, f.file_id, kept.version)
    assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(refused.value) == "FILE_ALREADY_EXISTS"
    assert f.local_path.read_bytes() == b"a new file took the name"


def test_a_view_session_cannot_delete(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "viewed.docx", b"safe", permission=session_pb.PERMISSION_VIEW)
    assert _op(http, f, "DELETE").status_code == 401
    assert f.local_path.read_bytes() == b"safe"


# --- PutUserInfo ------------------------------------------------------------------------------


def test_put_user_info_is_returned_by_check_file_info(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert _op(http, f, "PUT_USER_INFO", b'{"firstRun":false}').status_code == 200
    assert _info(http, f)["UserInfo"] == '{"firstRun":false}'


def test_user_info_belongs_to_the_user_not_to_the_file(api: ControlApi, tenant, http: httpx.Client) -> None:
    first = open_file(api, *tenant, "a.docx")
    assert _op(http, first, "PUT_USER_INFO", b"remember me").status_code == 200
    other_file = open_file(api, *tenant, "b.docx")
    other_user = open_file(api, *tenant, "a.docx", content=None, user_id="u2")
    assert _info(http, other_file)["UserInfo"] == "remember me"
    assert "UserInfo" not in _info(http, other_user)


def test_user_info_over_1024_characters_is_refused_and_changes_nothing(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert _op(http, f, "PUT_USER_INFO", b"kept").status_code == 200
    assert _op(http, f, "PUT_USER_INFO", b"i" * 1024).status_code == 200
    assert _op(http, f, "PUT_USER_INFO", b"kept").status_code == 200
    assert _op(http, f, "PUT_USER_INFO", b"i" * 1025).status_code in (400, 413)
    assert _info(http, f)["UserInfo"] == "kept"


# --- GetShareUrl ------------------------------------------------------------------------------


def test_get_share_url_is_not_implemented(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert _op(http, f, "GET_SHARE_URL", X_WOPI_UrlType="ReadOnly").status_code == 501


# --- CheckFileInfo capabilities ---------------------------------------------------------------

SUPPORTS = ("SupportsLocks", "SupportsGetLock", "SupportsExtendedLockLength", "SupportsUpdate",
            "SupportsRename", "SupportsDeleteFile", "SupportsUserInfo")


def test_check_file_info_advertises_what_the_host_implements_to_an_editor(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    info = _info(http, open_file(api, *tenant, "a.docx"))
    assert {name: info.get(name) for name in SUPPORTS} == dict.fromkeys(SUPPORTS, True)
    assert info["UserCanNotWriteRelative"] is False
    assert info["UserCanRename"] is True


def test_check_file_info_hides_save_as_from_a_viewer(api: ControlApi, tenant, http: httpx.Client) -> None:
    info = _info(http, open_file(api, *tenant, "a.docx", permission=session_pb.PERMISSION_VIEW))
    assert {name: info.get(name) for name in SUPPORTS} == dict.fromkeys(SUPPORTS, True)
    assert info["UserCanNotWriteRelative"] is True
    assert info.get("UserCanRename", False) is False


def test_check_file_info_shows_the_sha256_of_the_saved_bytes(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "a.docx", b"before")
    lock(http, f)
    assert put(http, f, b"after the save").status_code == 200
    expected = base64.b64encode(hashlib.sha256(b"after the save").digest()).decode()
    assert _info(http, f)["SHA256"] == expected
