"""CheckFileInfo, GetFile and PutFile against the real edge and a local folder storage."""

from __future__ import annotations

import os

import httpx

from tests.support.api import ControlApi, lock, open_file, put, session_pb

REQUIRED_CHECKFILEINFO = {
    "BaseFileName", "OwnerId", "Size", "UserId", "Version", "UserFriendlyName", "UserCanWrite", "ReadOnly",
    "SupportsUpdate", "LastModifiedTime",
}


def test_check_file_info_describes_the_file_and_the_user(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "reports/q1.docx", b"twelve bytes")
    info = http.get(f.url()).json()
    assert REQUIRED_CHECKFILEINFO <= info.keys()
    assert info["BaseFileName"] == "q1.docx"
    assert info["Size"] == 12
    assert info["UserId"] == "u1"
    assert info["UserFriendlyName"] == "Ann Example"
    assert info["OwnerId"] == f.tenant_id
    assert info["UserCanWrite"] is True and info["ReadOnly"] is False


def test_check_file_info_never_sends_null(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "a.docx")
    assert None not in http.get(f.url()).json().values()


def test_view_session_cannot_write(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "view.docx", b"original", permission=session_pb.PERMISSION_VIEW)
    info = http.get(f.url()).json()
    assert info["UserCanWrite"] is False and info["ReadOnly"] is True
    reply = http.post(f.url("/contents"), content=b"changed", headers={"X-WOPI-Override": "PUT"})
    assert reply.status_code == 401
    assert f.local_path.read_bytes() == b"original"


def test_get_file_returns_the_bytes_and_the_item_version(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "b.docx", b"\x00binary\xffcontent")
    reply = http.get(f.url("/contents"))
    assert reply.status_code == 200
    assert reply.content == b"\x00binary\xffcontent"
    assert reply.headers["X-WOPI-ItemVersion"] == http.get(f.url()).json()["Version"]


def test_get_file_of_an_empty_file_is_200_with_no_bytes(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "empty.docx", b"")
    reply = http.get(f.url("/contents"))
    assert (reply.status_code, reply.content, reply.headers["Content-Length"]) == (200, b"", "0")
    assert reply.headers["X-WOPI-ItemVersion"] == http.get(f.url()).json()["Version"]


def test_get_file_one_byte_over_a_chunk_is_streamed_whole(api: ControlApi, tenant, http: httpx.Client) -> None:
    """The edge answers files of at most one chunk (1 MiB) as bytes and streams larger ones:
    the first size past the boundary still arrives whole, with its length and version."""
    body = os.urandom((1 << 20) + 1)
    f = open_file(api, *tenant, "chunk.bin", body)
    reply = http.get(f.url("/contents"))
    assert reply.status_code == 200
    assert reply.headers["Content-Length"] == str(len(body)) and reply.content == body
    assert reply.headers["X-WOPI-ItemVersion"] == http.get(f.url()).json()["Version"]


def test_put_file_then_get_file_returns_the_new_bytes_and_a_new_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "c.docx", b"old")
    before = http.get(f.url()).json()["Version"]
    lock(http, f)
    saved = put(http, f, b"new content")
    assert saved.status_code == 200
    got = http.get(f.url("/contents"))
    assert got.content == b"new content"
    assert got.headers["X-WOPI-ItemVersion"] == saved.headers["X-WOPI-ItemVersion"] != before
    assert http.get(f.url()).json()["Version"] == saved.headers["X-WOPI-ItemVersion"]


def test_every_save_gets_a_version_never_seen_before(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "d.docx", b"same0")
    versions = {http.get(f.url()).json()["Version"]}
    lock(http, f)
    for i in range(1, 6):  # same size, within the same second: still new versions
        versions.add(put(http, f, f"same{i}".encode()).headers["X-WOPI-ItemVersion"])
    assert len(versions) == 6


def test_put_file_answers_last_modified_time_as_check_file_info_shows_it(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "e.docx")
    lock(http, f)
    saved = put(http, f, b"x")
    assert saved.json()["LastModifiedTime"] == http.get(f.url()).json()["LastModifiedTime"]


def test_get_file_larger_than_max_expected_size_is_412(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "f.docx", b"0123456789")
    assert http.get(f.url("/contents"), headers={"X-WOPI-MaxExpectedSize": "5"}).status_code == 412
    assert http.get(f.url("/contents"), headers={"X-WOPI-MaxExpectedSize": "10"}).status_code == 200


def test_malformed_max_expected_size_is_400(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "g.docx")
    assert http.get(f.url("/contents"), headers={"X-WOPI-MaxExpectedSize": "lots"}).status_code == 400


def test_unknown_override_on_contents_is_501(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "h.docx", b"keep")
    reply = http.post(f.url("/contents"), content=b"x", headers={"X-WOPI-Override": "FROBNICATE"})
    assert reply.status_code == 501
    assert f.local_path.read_bytes() == b"keep"


def test_unknown_override_on_file_is_501(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "i.docx")
    assert http.post(f.url(), headers={"X-WOPI-Override": "FROBNICATE"}).status_code == 501


def test_post_without_override_is_501(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "j.docx", b"keep")
    assert http.post(f.url("/contents"), content=b"x").status_code == 501
    assert f.local_path.read_bytes() == b"keep"


def test_file_removed_from_storage_is_404(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "gone.docx")
    f.local_path.unlink()
    assert http.get(f.url()).status_code == 404
    assert http.get(f.url("/contents")).status_code == 404


def test_a_file_changed_behind_our_back_gets_a_new_version(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "ext.docx", b"v1")
    before = http.get(f.url()).json()["Version"]
    f.local_path.write_bytes(b"changed by someone else")
    assert http.get(f.url()).json()["Version"] != before


def test_save_larger_than_quarts_default_16_mib_limit_is_stored(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "large.bin", b"")
    body = bytes(range(256)) * (80 * 1024)  # 20 MiB
    saved = put(http, f, body, lock_id=None)  # an empty file may be written without a lock
    assert saved.status_code == 200
    got = http.get(f.url("/contents"))
    assert len(got.content) == len(body) and got.content == body
