"""Storage moved away, full, read-only or replaced by a file: the editor hears what happened
(503 or 507, the kind of failure and an incident id; the root and what storage said are in the
edge's log under that id, never told to the editor), the root is never recreated, and the stored
bytes are intact."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import ControlApi, OpenFile, lock, new_tenant, open_file, put, session_pb, storage_pb
from tests.support.processes import WopiProxyProcess

MiB = 1 << 20


def _leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".~wopi-*"))


@pytest.fixture
def opened(api: ControlApi, tmp_path: Path) -> OpenFile:
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    return open_file(api, tenant_id, folder, "sub/report.docx", b"before")


def _incident(reply: httpx.Response) -> str:
    """The incident id the editor is told; the operator finds the details under it."""
    match = re.search(r"\(incident ([0-9a-f]{8})\)$", reply.json()["message"])
    assert match, reply.text
    return match.group(1)


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is not permitted here: {result.stderr.strip()}")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root: skipped otherwise)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point))
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_storage_root_moved_away_answers_503_and_is_not_recreated(
        opened: OpenFile, http: httpx.Client, server: WopiProxyProcess) -> None:
    """Attack: the disk is unmounted (the root vanishes); a save must not recreate an empty root
    and write there, hiding the real files when the disk comes back."""
    root = opened.local_path.parent.parent
    lock(http, opened)
    moved = root.with_name(root.name + "-moved")
    root.rename(moved)
    for reply in (http.get(opened.url()), http.get(opened.url("/contents")), put(http, opened, b"after")):
        assert reply.status_code == 503, reply.text
        assert reply.headers["Retry-After"].isdigit()
        assert reply.json()["error"] == "STORAGE_UNREACHABLE"
    assert not root.exists(), f"the root was recreated\n{server.log()}"
    assert (moved / "sub" / "report.docx").read_bytes() == b"before"


def test_a_storage_failure_tells_the_editor_its_kind_and_the_operator_its_details(
        opened: OpenFile, http: httpx.Client, server: WopiProxyProcess) -> None:
    """An editor's server (a third party's, often) is not told where the operator keeps files:
    the root and the storage's own words go to the edge's log, under the incident id it is told."""
    root = opened.local_path.parent.parent
    root.rename(root.with_name(root.name + "-moved"))
    reply = http.get(opened.url())
    assert reply.status_code == 503, reply.text
    assert str(root) not in reply.text and root.name not in reply.text
    incident = _incident(reply)
    logged = [line for line in server.log().splitlines() if f"incident {incident}" in line]
    assert logged and str(root) in logged[0] and "does not exist" in logged[0], server.log()


def test_a_storage_root_that_is_a_file_answers_503(
        opened: OpenFile, http: httpx.Client, server: WopiProxyProcess) -> None:
    """Attack: the root is replaced by a file; the operator must hear so, the editor 503 (not 404 or 500)."""
    root = opened.local_path.parent.parent
    lock(http, opened)
    shutil.rmtree(root)
    root.write_bytes(b"not a folder")
    for reply in (http.get(opened.url()), put(http, opened, b"after")):
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"] == "STORAGE_UNREACHABLE"
        incident = _incident(reply)
        assert any(f"incident {incident}" in line and "not a folder" in line
                   for line in server.log().splitlines()), server.log()
    assert root.read_bytes() == b"not a folder"


def test_a_full_disk_answers_507_and_keeps_the_previous_content(
        api: ControlApi, tiny_disk: Path, http: httpx.Client) -> None:
    """Attack: a save larger than the free space; the editor must hear 507 (not 500) and the
    stored file must stay whole, with no partial staging object left."""
    tenant_id, folder = new_tenant(api, tiny_disk)
    opened = open_file(api, tenant_id, folder, "report.docx", b"before")
    lock(http, opened)
    reply = put(http, opened, b"x" * (2 * MiB))
    assert reply.status_code == 507, reply.text
    assert reply.json()["error"] == "STORAGE_FULL"
    assert opened.local_path.read_bytes() == b"before"
    assert _leftovers(folder) == []
    assert put(http, opened, b"small").status_code == 200  # room for a normal save again
    assert opened.local_path.read_bytes() == b"small"


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A folder and a read-only view of it (bind mount remounted ro)."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    _mount("--bind", str(source), str(view))
    try:
        _mount("-o", "remount,ro,bind", str(view))
        yield source, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_storage_answers_503_naming_it_read_only(
        api: ControlApi, read_only: tuple[Path, Path], http: httpx.Client) -> None:
    """Attack: the storage is remounted read-only; a save must be refused as the storage's
    fault (503 STORAGE_READ_ONLY), reads keep working, nothing changes."""
    source, view = read_only
    tenant_id, _ = new_tenant(api, source)  # the tenant's folder inside the writable side
    tenant_folder = next(source.iterdir())
    (tenant_folder / "report.docx").write_bytes(b"before")
    api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="ro", protocol="file", root=str(view / tenant_folder.name)))
    created = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="ro", path="report.docx", user_id="u1",
        permission=session_pb.PERMISSION_EDIT))
    url = f"{created.session.wopi_src}?access_token={created.access_token}"
    contents = f"{created.session.wopi_src}/contents?access_token={created.access_token}"
    assert http.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}).status_code == 200
    reply = http.post(contents, content=b"after", headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "L"})
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"] == "STORAGE_READ_ONLY"
    assert "read-only" in reply.json()["message"] and str(view) not in reply.text
    assert http.get(contents).content == b"before"
    assert (tenant_folder / "report.docx").read_bytes() == b"before"
