"""PutFile rules (rest/files/putfile) and what every save leaves behind: kept versions, limits.

- Locked file: X-WOPI-Lock must match; else 409 with the current lock.
- Unlocked file: allowed when empty; Collabora (X-COOL-WOPI-*) and OnlyOffice (X-LOOL-WOPI-*)
  are held to their timestamp contract instead (409 + COOLStatusCode 1010 on a mismatch).
- Refused content is never lost: it is kept beside the file as a "(conflict ...)" copy.
- Every overwrite keeps the previous content as a version, within the storage's retention.
"""

from __future__ import annotations

import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

import grpc
import httpx
import pytest

from shared.storage import version_object_path
from tests.support.api import (
    LOCK,
    ControlApi,
    OpenFile,
    error_reason,
    lock,
    open_file,
    put,
    session_pb,
    storage_pb,
    tenant_pb,
)
from wopiproxy.control.v1 import file_service_pb2 as file_pb
from wopiproxy.control.v1 import file_service_pb2_grpc as file_grpc

WRONG_LOCK = "someone-elses-lock"


def _files(api: ControlApi) -> file_grpc.FileServiceStub:
    return file_grpc.FileServiceStub(api.channel)


def _versions(api: ControlApi, f: OpenFile) -> list[file_pb.FileVersion]:
    reply = api.call(_files(api).ListFileVersions,
                     file_pb.ListFileVersionsRequest(tenant_id=f.tenant_id, file_id=f.file_id))
    return list(reply.versions)


def _restore(api: ControlApi, f: OpenFile, version: int) -> file_pb.File:
    request = file_pb.RestoreFileVersionRequest(tenant_id=f.tenant_id, file_id=f.file_id, version=version)
    return api.call(_files(api).RestoreFileVersion, request)


def _unlock(http: httpx.Client, f: OpenFile) -> None:
    reply = http.post(f.url(), headers={"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": LOCK})
    assert reply.status_code == 200, reply.text


def _conflict_copies(f: OpenFile) -> list[Path]:
    return sorted(p for p in f.local_path.parent.iterdir() if "(conflict" in p.name)


def _assert_refused_body_kept(f: OpenFile, body: bytes) -> None:
    copies = _conflict_copies(f)
    assert len(copies) == 1, copies
    assert copies[0].read_bytes() == body
    assert copies[0].suffix == f.local_path.suffix


def _tenant_with_storage(api: ControlApi, root: Path, **storage: int) -> tuple[str, Path]:
    """A fresh tenant whose storage 'docs' has the given CreateStorageRequest settings."""
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name=tenant_id))
    folder = root / tenant_id
    folder.mkdir(parents=True)
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="docs", protocol="file", root=str(folder), **storage))
    return tenant_id, folder


def _info(http: httpx.Client, f: OpenFile) -> dict:
    reply = http.get(f.url())
    assert reply.status_code == 200, reply.text
    return reply.json()


# --- Locked files -----------------------------------------------------------------------------


def test_put_file_with_the_matching_lock_saves_and_answers_the_new_item_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "locked.docx", b"old")
    before = _info(http, f)["Version"]
    lock(http, f)
    reply = put(http, f, b"new bytes")
    assert reply.status_code == 200
    assert reply.headers["X-WOPI-ItemVersion"] != before
    assert reply.headers["X-WOPI-ItemVersion"] == _info(http, f)["Version"]
    assert f.local_path.read_bytes() == b"new bytes"


def test_put_file_with_a_wrong_lock_is_409_and_keeps_the_body_as_a_conflict_copy(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "wrong.docx", b"original")
    lock(http, f)
    reply = put(http, f, b"refused bytes", lock_id=WRONG_LOCK)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK
    assert f.local_path.read_bytes() == b"original"
    _assert_refused_body_kept(f, b"refused bytes")


def test_identical_bytes_under_a_wrong_lock_are_still_kept_as_a_conflict_copy(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    """An unchanged body is not written while staged (the edge keeps it in memory): refused, it
    must still become a conflict copy."""
    f = open_file(api, *tenant, "same-wrong.docx", b"original")
    lock(http, f)
    assert put(http, f, b"recorded bytes").status_code == 200  # recorded: the next body is unchanged
    reply = put(http, f, b"recorded bytes", lock_id=WRONG_LOCK)
    assert reply.status_code == 409
    assert f.local_path.read_bytes() == b"recorded bytes"
    _assert_refused_body_kept(f, b"recorded bytes")


def test_refused_saves_in_the_same_second_each_keep_their_own_conflict_copy(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    """Autosaves from two tabs or a retrying editor: every 409 names the copy its body was kept
    in, so one refused save's copy must never replace another's."""
    f = open_file(api, *tenant, "burst.docx", b"original")
    lock(http, f)
    bodies = [f"refused save {i}".encode() * 1000 for i in range(8)]

    def refused_put(body: bytes) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return put(client, f, body, lock_id=WRONG_LOCK)

    with ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(refused_put, bodies))
    assert [r.status_code for r in replies] == [409] * len(bodies)
    kept = {body: f.local_path.parent / unquote(r.headers["X-WopiProxy-Conflict-Copy"])
            for body, r in zip(bodies, replies, strict=True)}
    assert {body: path.read_bytes() for body, path in kept.items()} == {body: body for body in bodies}


def test_put_file_without_a_lock_on_a_locked_file_is_409(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "nolock.docx", b"original")
    lock(http, f)
    reply = put(http, f, b"refused", lock_id=None)
    assert reply.status_code == 409
    assert reply.headers["X-WOPI-Lock"] == LOCK
    assert f.local_path.read_bytes() == b"original"


# --- Unlocked files ---------------------------------------------------------------------------


def test_put_file_on_an_unlocked_non_empty_file_is_409_with_an_empty_lock(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "unlocked.docx", b"original")
    reply = put(http, f, b"refused bytes", lock_id=None)
    assert reply.status_code == 409
    assert "X-WOPI-Lock" in reply.headers and reply.headers["X-WOPI-Lock"] == ""
    assert f.local_path.read_bytes() == b"original"
    _assert_refused_body_kept(f, b"refused bytes")


def test_put_file_on_an_unlocked_empty_file_is_saved(api: ControlApi, tenant, http: httpx.Client) -> None:
    f = open_file(api, *tenant, "new.docx", b"")
    reply = put(http, f, b"first content", lock_id=None)
    assert reply.status_code == 200
    assert f.local_path.read_bytes() == b"first content"
    assert not _conflict_copies(f)


# --- Collabora and OnlyOffice timestamps ------------------------------------------------------


@pytest.mark.parametrize("prefix", ["X-COOL-WOPI-", "X-LOOL-WOPI-"], ids=["collabora", "onlyoffice"])
def test_unlocked_put_file_with_the_current_timestamp_is_saved_and_answers_the_new_one(
    api: ControlApi, tenant, http: httpx.Client, prefix: str
) -> None:
    f = open_file(api, *tenant, "cool.odt", b"original")
    seen = _info(http, f)["LastModifiedTime"]
    reply = put(http, f, b"saved by the editor", lock_id=None, **{prefix + "Timestamp": seen})
    assert reply.status_code == 200
    assert reply.json()["LastModifiedTime"] == _info(http, f)["LastModifiedTime"]
    assert f.local_path.read_bytes() == b"saved by the editor"


@pytest.mark.parametrize("prefix", ["X-COOL-WOPI-", "X-LOOL-WOPI-"], ids=["collabora", "onlyoffice"])
def test_unlocked_put_file_with_a_stale_timestamp_is_409_1010_and_keeps_a_conflict_copy(
    api: ControlApi, tenant, http: httpx.Client, prefix: str
) -> None:
    f = open_file(api, *tenant, "stale.odt", b"original")
    reply = put(http, f, b"stale edit", lock_id=None, **{prefix + "Timestamp": "2001-01-01T00:00:00.000000Z"})
    assert reply.status_code == 409
    assert reply.json()["COOLStatusCode"] == 1010
    assert f.local_path.read_bytes() == b"original"
    _assert_refused_body_kept(f, b"stale edit")


def test_collabora_overwrite_retry_without_a_timestamp_is_saved(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    # After a 1010 the user chose "overwrite": Collabora repeats the save without the timestamp.
    f = open_file(api, *tenant, "overwrite.odt", b"changed in storage")
    reply = put(http, f, b"the user's version", lock_id=None, **{"X-COOL-WOPI-IsModifiedByUser": "true"})
    assert reply.status_code == 200
    assert reply.json()["LastModifiedTime"] == _info(http, f)["LastModifiedTime"]
    assert f.local_path.read_bytes() == b"the user's version"


# --- Other save rules -------------------------------------------------------------------------


def test_saving_identical_bytes_answers_200_with_a_new_item_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "same.docx", b"unchanged")
    lock(http, f)
    first = put(http, f, b"unchanged")
    second = put(http, f, b"unchanged")
    assert first.status_code == second.status_code == 200
    assert second.headers["X-WOPI-ItemVersion"] != first.headers["X-WOPI-ItemVersion"]
    assert second.headers["X-WOPI-ItemVersion"] == _info(http, f)["Version"]
    assert f.local_path.read_bytes() == b"unchanged"


def test_a_view_session_cannot_put_file_and_leaves_no_conflict_copy(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "view.docx", b"original", permission=session_pb.PERMISSION_VIEW)
    reply = put(http, f, b"not allowed", lock_id=None)
    assert reply.status_code == 401
    assert f.local_path.read_bytes() == b"original"
    assert not _conflict_copies(f)


# --- Kept versions ----------------------------------------------------------------------------


def test_every_overwrite_keeps_the_previous_content_as_a_version(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "history.docx", b"v0")
    lock(http, f)
    assert put(http, f, b"v1 is longer").status_code == 200
    assert put(http, f, b"v2").status_code == 200
    kept = _versions(api, f)
    assert [v.reason for v in kept] == ["save", "save"]
    assert kept[0].version > kept[1].version  # newest first
    assert [v.size for v in kept] == [len(b"v1 is longer"), len(b"v0")]
    assert kept[0].sha256 == hashlib.sha256(b"v1 is longer").hexdigest()


def test_restoring_a_version_puts_its_bytes_back_and_keeps_the_replaced_content(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "restore.docx", b"first draft")
    lock(http, f)
    assert put(http, f, b"second draft").status_code == 200
    _unlock(http, f)
    [first_draft] = _versions(api, f)
    version_before = _info(http, f)["Version"]

    restored = _restore(api, f, first_draft.version)

    assert restored.sha256 == hashlib.sha256(b"first draft").hexdigest()
    assert restored.size == len(b"first draft")
    assert http.get(f.url("/contents")).content == b"first draft"
    assert _info(http, f)["Version"] != version_before
    newest = _versions(api, f)[0]
    assert newest.reason == "restore"
    assert newest.size == len(b"second draft")
    _restore(api, f, newest.version)
    assert http.get(f.url("/contents")).content == b"second draft"


def test_restoring_while_an_editor_holds_the_lock_is_failed_precondition(
    api: ControlApi, tenant, http: httpx.Client
) -> None:
    f = open_file(api, *tenant, "busy.docx", b"first")
    lock(http, f)
    assert put(http, f, b"second").status_code == 200
    [kept] = _versions(api, f)
    with pytest.raises(grpc.RpcError) as refused:
        _restore(api, f, kept.version)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(refused.value) == "FILE_LOCKED"
    assert f.local_path.read_bytes() == b"second"


def test_a_storage_keeps_only_as_many_versions_as_its_retention(
    api: ControlApi, tmp_path: Path, http: httpx.Client
) -> None:
    tenant = _tenant_with_storage(api, tmp_path, version_retention=2)
    f = open_file(api, *tenant, "retained.docx", b"save 0")
    lock(http, f)
    for i in range(1, 5):
        assert put(http, f, f"save {i}".encode()).status_code == 200
    kept = _versions(api, f)
    assert len(kept) == 2
    assert [v.size for v in kept] == [len(b"save 3"), len(b"save 2")]
    assert kept[0].sha256 == hashlib.sha256(b"save 3").hexdigest()
    assert kept[1].sha256 == hashlib.sha256(b"save 2").hexdigest()
    objects = tenant[1] / version_object_path(f.file_id, 0).rsplit("/", 1)[0]
    assert sorted(p.name for p in objects.iterdir()) == sorted(str(v.version) for v in kept)


def test_an_expired_version_can_no_longer_be_restored(
    api: ControlApi, tmp_path: Path, http: httpx.Client
) -> None:
    tenant = _tenant_with_storage(api, tmp_path, version_retention=1)
    f = open_file(api, *tenant, "expired.docx", b"a")
    lock(http, f)
    assert put(http, f, b"b").status_code == 200
    [oldest] = _versions(api, f)
    assert put(http, f, b"c").status_code == 200
    assert oldest.version not in [v.version for v in _versions(api, f)]
    _unlock(http, f)
    with pytest.raises(grpc.RpcError) as refused:
        _restore(api, f, oldest.version)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert f.local_path.read_bytes() == b"c"


# --- Size limit -------------------------------------------------------------------------------


def test_a_save_over_the_storages_max_file_size_is_413_and_keeps_the_content(
    api: ControlApi, tmp_path: Path, http: httpx.Client
) -> None:
    tenant = _tenant_with_storage(api, tmp_path, max_file_size=1000)
    f = open_file(api, *tenant, "capped.docx", b"small")
    lock(http, f)
    assert put(http, f, b"x" * 1001).status_code == 413
    assert f.local_path.read_bytes() == b"small"
    assert put(http, f, b"y" * 1000).status_code == 200
    assert f.local_path.read_bytes() == b"y" * 1000
