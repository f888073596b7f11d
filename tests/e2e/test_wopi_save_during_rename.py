"""A PutFile whose body is still arriving when the file is renamed (the editor's own rename, or
any holder of the lock): the save goes where the file is now. The database never records a save
that storage does not hold, and the old name does not come back as a file nobody owns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.test_audit import events
from tests.support.api import LOCK, ControlApi, OpenFile, lock, open_file
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc

WAIT_S = 60.0


def wait_for_grant(api: ControlApi, f: OpenFile, operation: str = "PutFile") -> None:
    """The edge authorized the request (its grant's audit record), so it is reading the body."""
    deadline = time.monotonic() + WAIT_S
    while not events(api, tenant_id=f.tenant_id, file_id=f.file_id, operation=operation):
        assert time.monotonic() < deadline, f"the {operation} was never authorized"
        time.sleep(0.05)  # polling an observable state, not a guess at how long the edge takes


def _put_with_body_held(f: OpenFile, first: bytes, rest: bytes, release: threading.Event,
                        replies: dict[str, httpx.Response]) -> threading.Thread:
    def body() -> Iterator[bytes]:
        yield first
        assert release.wait(WAIT_S)
        yield rest

    def send() -> None:
        with httpx.Client(timeout=WAIT_S * 2) as client:
            replies["put"] = client.post(f.url("/contents"), content=body(),
                                         headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": LOCK})

    worker = threading.Thread(target=send)
    worker.start()
    return worker


def _rename(http: httpx.Client, f: OpenFile, name: str) -> None:
    renamed = http.post(f.url(), headers={"X-WOPI-Override": "RENAME_FILE", "X-WOPI-Lock": LOCK,
                                          "X-WOPI-RequestedName": name})
    assert renamed.status_code == 200, renamed.text


def _save_racing_renames(api: ControlApi, tenant: tuple[str, Path], http: httpx.Client,
                         names: list[str]) -> tuple[OpenFile, httpx.Response, Path]:
    tenant_id, folder = tenant
    f = open_file(api, tenant_id, folder, "a.docx", b"original")
    lock(http, f)
    release, replies = threading.Event(), {}
    worker = _put_with_body_held(f, b"saved ", b"content", release, replies)
    try:
        wait_for_grant(api, f)
        for name in names:
            _rename(http, f, name)
    finally:
        release.set()
        worker.join(WAIT_S * 2)
    return f, replies["put"], folder


def test_a_save_during_a_rename_lands_in_the_renamed_file(api: ControlApi, tenant: tuple[str, Path],
                                                          http: httpx.Client) -> None:
    f, put, folder = _save_racing_renames(api, tenant, http, ["b"])
    assert put.status_code == 200, put.text
    assert http.get(f.url("/contents")).content == b"saved content"
    assert (folder / "b.docx").read_bytes() == b"saved content"
    assert not (folder / "a.docx").exists(), "the save brought the old name back"


def test_a_save_during_a_rename_keeps_the_renamed_files_previous_content_as_a_version(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f, put, _ = _save_racing_renames(api, tenant, http, ["b"])
    assert put.status_code == 200, put.text
    versions = api.call(file_grpc.FileServiceStub(api.channel).ListFileVersions,
                        file_pb.ListFileVersionsRequest(tenant_id=f.tenant_id, file_id=f.file_id))
    kept = [v for v in versions.versions if v.size == len(b"original")]
    assert kept, versions


def test_a_save_during_several_renames_lands_under_the_files_last_name(
        api: ControlApi, tenant: tuple[str, Path], http: httpx.Client) -> None:
    f, put, folder = _save_racing_renames(api, tenant, http, ["b", "c", "d"])
    assert put.status_code == 200, put.text
    assert (folder / "d.docx").read_bytes() == b"saved content"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["d.docx"]
