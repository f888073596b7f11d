"""Names taken by folders, and names that decode to nothing: the WOPI statuses, never a 500,
never a file identity for a file that was not written."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest

from tests.support.api import ControlApi, error_reason, lock, new_tenant, open_file, session_pb


def _utf7(header: str) -> str:
    return header.encode("ascii").decode("utf-7")


def test_put_relative_onto_a_folder_name_is_409_with_a_valid_target(api: ControlApi, tmp_path: Path,
                                                                    http: httpx.Client) -> None:
    """Attack: PutRelativeFile names an existing folder (with overwrite): it must not replace
    the folder nor answer 500 after recording a new file."""
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "report.docx")
    (folder / "archive.docx").mkdir()
    (folder / "archive.docx" / "inside.txt").write_bytes(b"keep")
    for overwrite in ("false", "true"):
        reply = http.post(opened.url(), content=b"copy", headers={
            "X-WOPI-Override": "PUT_RELATIVE", "X-WOPI-RelativeTarget": "archive.docx",
            "X-WOPI-OverwriteRelativeTarget": overwrite, "X-WOPI-Size": "4"})
        assert reply.status_code == 409, reply.text
        valid = _utf7(reply.headers["X-WOPI-ValidRelativeTarget"])
        assert valid != "archive.docx" and not (folder / valid).exists()
    assert (folder / "archive.docx" / "inside.txt").read_bytes() == b"keep"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["archive.docx", "report.docx"]


def test_put_relative_suggested_name_skips_a_folder_of_that_name(api: ControlApi, tmp_path: Path,
                                                                 http: httpx.Client) -> None:
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "report.docx")
    (folder / "report.pdf").mkdir()
    reply = http.post(opened.url(), content=b"pdf", headers={
        "X-WOPI-Override": "PUT_RELATIVE", "X-WOPI-SuggestedTarget": ".pdf", "X-WOPI-Size": "3"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["Name"] != "report.pdf"
    assert (folder / reply.json()["Name"]).read_bytes() == b"pdf"
    assert (folder / "report.pdf").is_dir()


def test_rename_onto_a_folder_name_is_400(api: ControlApi, tmp_path: Path, http: httpx.Client) -> None:
    """Attack: RenameFile to the name of a folder: a 500 (or a move into the folder) would do."""
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "report.docx", b"mine")
    (folder / "taken.docx").mkdir()
    lock(http, opened)
    reply = http.post(opened.url(), headers={"X-WOPI-Override": "RENAME_FILE", "X-WOPI-Lock": "test-lock-1",
                                             "X-WOPI-RequestedName": "taken"})
    assert reply.status_code == 400, reply.text
    assert reply.headers["X-WOPI-InvalidFileNameError"]
    assert opened.local_path.read_bytes() == b"mine"
    assert (folder / "taken.docx").is_dir() and list((folder / "taken.docx").iterdir()) == []


@pytest.mark.parametrize("requested", ["+", "", "+ACA-"])  # "", "", " " in UTF-7
def test_rename_to_a_name_that_decodes_to_nothing_is_400(api: ControlApi, tmp_path: Path, http: httpx.Client,
                                                         requested: str) -> None:
    """Attack: "+" is "" in UTF-7: the file would be renamed to ".docx", an extension alone."""
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "report.docx", b"mine")
    lock(http, opened)
    reply = http.post(opened.url(), headers={"X-WOPI-Override": "RENAME_FILE", "X-WOPI-Lock": "test-lock-1",
                                             "X-WOPI-RequestedName": requested})
    assert reply.status_code == 400, reply.text
    assert opened.local_path.read_bytes() == b"mine"
    assert sorted(p.name for p in folder.iterdir()) == ["report.docx"]


def test_put_relative_to_an_extension_alone_is_400_with_a_valid_target(api: ControlApi, tmp_path: Path,
                                                                       http: httpx.Client) -> None:
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "report.docx")
    reply = http.post(opened.url(), content=b"x", headers={
        "X-WOPI-Override": "PUT_RELATIVE", "X-WOPI-RelativeTarget": ".docx", "X-WOPI-Size": "1"})
    assert reply.status_code == 400, reply.text
    assert _utf7(reply.headers["X-WOPI-ValidRelativeTarget"])
    assert sorted(p.name for p in folder.iterdir()) == ["report.docx"]


def test_creating_a_session_on_a_folder_is_failed_precondition(api: ControlApi, tmp_path: Path) -> None:
    """Attack: CreateSession(create=true) on a folder's path: no file row, no 500."""
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    (folder / "drafts.docx").mkdir()
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="drafts.docx", user_id="u1", create=True,
            permission=session_pb.PERMISSION_EDIT))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert error_reason(caught.value) == "PATH_IS_FOLDER"
    assert (folder / "drafts.docx").is_dir()
