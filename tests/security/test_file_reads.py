"""GetFile's reads of a local folder: what someone who can change the folder tries after a session
was opened honestly (the edge checks the path at every read, not only the control plane at open)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.security.storage_support import create_storage, hostile_tenant, open_session
from tests.support.api import session_pb
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """The operator's --tenant-file-base."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    return folder


def _folder_with_session(deploy: Deploy, shape: str, base: Path, name: str,
                         content: bytes) -> tuple[Deployment, Path, session_pb.CreateSessionResponse]:
    deployment = deploy(shape, control_args=("--tenant-file-base", str(base)))
    hostile = hostile_tenant(deployment)
    folder = base / hostile.tenant_id / "docs"
    folder.mkdir(parents=True)
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    create_storage(hostile.api, hostile.tenant_id, folder)
    return deployment, folder, open_session(hostile.api, hostile.tenant_id, name)


def test_small_file_swapped_for_a_symlink_to_the_admin_key_is_refused_at_get_file(
        shape: str, deploy: Deploy, base: Path) -> None:
    """Attack: open a session on an honest small file, then replace the file with a symlink to
    the control plane's admin.key: GetFile (read whole, at most one chunk) must not send it."""
    deployment, folder, opened = _folder_with_session(deploy, shape, base, "note.txt", b"honest")
    os.remove(folder / "note.txt")
    (folder / "note.txt").symlink_to(deployment.data_dir / "admin.key")

    reply = httpx.get(f"{opened.session.wopi_src}/contents", params={"access_token": opened.access_token})

    assert reply.status_code == 400, f"{reply.status_code} {reply.text}\n{deployment.log()}"
    assert deployment.admin_key.encode() not in reply.content
    assert reply.json()["error"] == "PATH_OUTSIDE_ROOT"


def test_folder_swapped_for_a_symlink_out_of_the_root_is_refused_at_get_file(
        shape: str, deploy: Deploy, base: Path, tmp_path: Path) -> None:
    """Attack: open a session on a file in a sub-folder, then swap the sub-folder for a symlink
    to a folder outside the root holding a large file of the same name: nothing of it is sent."""
    deployment, folder, opened = _folder_with_session(deploy, shape, base, "sub/big.bin", b"honest")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = b"secret!" * (300 * 1024)  # over one chunk: the streamed path
    (outside / "big.bin").write_bytes(secret)
    os.rename(folder / "sub", folder / "sub-old")
    (folder / "sub").symlink_to(outside)

    reply = httpx.get(f"{opened.session.wopi_src}/contents", params={"access_token": opened.access_token})

    assert reply.status_code == 400, f"{reply.status_code} {reply.text[:200]}\n{deployment.log()}"
    assert b"secret!" not in reply.content
    assert reply.json()["error"] == "PATH_OUTSIDE_ROOT"
