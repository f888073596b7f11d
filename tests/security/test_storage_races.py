"""Checked by path, then used by path: the storage policy's root check (control plane, at every
grant) and full_path()'s symlink check (edge, at every read) resolve the path, and the file is
then opened by the same path again, following whatever symlinks are there by then. A tenant that
can change its own folder (as tests/security/test_file_reads.py assumes) flips a symlink between
an honest target and the data dir while it asks for the file: some reads return the operator's
admin.key. No sleep: the flipping runs as fast as it can in a process of its own, the reads are
repeated until one succeeds or the attempts run out (before the fix: within 1 to 60 reads, about
50 saves). shared.storage.confined is the fix; tests/storage/test_confined.py pins each operation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.security.storage_support import create_storage, hostile_tenant, open_session
from tests.support.deployment import Deployment

Deploy = Callable[..., Deployment]
READS = 300
SAVES = 150
FILES = 10

FLIPPER = r"""
import os, sys
link, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
tmp_a, tmp_b = link + ".flip-a", link + ".flip-b"
while True:
    for target, tmp in ((a, tmp_a), (b, tmp_b)):
        try:
            os.symlink(target, tmp)
        except FileExistsError:
            pass
        os.replace(tmp, link)
"""


@pytest.fixture
def base(tmp_path: Path) -> Path:
    folder = tmp_path / "tenants"
    folder.mkdir()
    return folder


@contextmanager
def flipping(link: Path, honest: str, hostile: str) -> Iterator[None]:
    """`link` is a symlink that a process of our own keeps re-pointing between two targets."""
    proc = subprocess.Popen([sys.executable, "-c", FLIPPER, str(link), honest, hostile])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()
        for leftover in (link, link.with_name(link.name + ".flip-a"), link.with_name(link.name + ".flip-b")):
            if os.path.lexists(leftover):
                os.unlink(leftover)
        os.symlink(honest, link)


def _hammer(url: str, secret: bytes) -> tuple[int, dict[str, int]]:
    """GetFile READS times: how many answers carried `secret`, and the outcomes seen."""
    outcomes: dict[str, int] = {}
    leaked = 0
    with httpx.Client(timeout=30) as client:
        for _ in range(READS):
            reply = client.get(url)
            key = f"{reply.status_code} {reply.content[:24]!r}"
            outcomes[key] = outcomes.get(key, 0) + 1
            if secret in reply.content:
                leaked += 1
                break
    return leaked, outcomes


def test_storage_root_flipped_to_the_data_dir_between_grant_and_read_never_serves_the_admin_key(
        deploy: Deploy, base: Path) -> None:
    """Attack: the tenant's root <base>/<t>/docs is a symlink to its own <base>/<t>/real (which
    holds a decoy admin.key), and it flips it to the data dir and back continuously while GetFile is
    called. The control plane checks realpath(root) at the grant; the edge opens root/admin.key by
    name afterwards (a gRPC round trip later) and only looks for symlinks *below* the root."""
    deployment = deploy("split", control_args=("--tenant-file-base", str(base)))
    secret = deployment.admin_key.encode()
    hostile = hostile_tenant(deployment)
    real = base / hostile.tenant_id / "real"
    real.mkdir(parents=True)
    (real / "admin.key").write_bytes(b"decoy")
    root = base / hostile.tenant_id / "docs"
    root.symlink_to(real)
    create_storage(hostile.api, hostile.tenant_id, root)
    opened = open_session(hostile.api, hostile.tenant_id, "admin.key")

    with flipping(root, str(real), str(deployment.data_dir)):
        leaked, outcomes = _hammer(f"{opened.session.wopi_src}/contents?access_token={opened.access_token}", secret)
    assert leaked == 0, f"GetFile returned the operator's admin.key to a tenant token; outcomes: {outcomes}"


def test_sub_folder_flipped_out_of_the_root_between_check_and_open_never_serves_the_admin_key(
        deploy: Deploy, base: Path) -> None:
    """Attack: inside an honest root, sub/ is a symlink to ./real (inside the root: allowed) that the
    tenant flips to the data dir and back while GetFile reads sub/admin.key. full_path() lstat()s and
    realpath()s the path, then _open_local() os.open()s it by name: a flip in between is followed."""
    deployment = deploy("split", control_args=("--tenant-file-base", str(base)))
    secret = deployment.admin_key.encode()
    hostile = hostile_tenant(deployment)
    root = base / hostile.tenant_id / "docs"
    (root / "real").mkdir(parents=True)
    (root / "real" / "admin.key").write_bytes(b"decoy")
    (root / "sub").symlink_to(root / "real")
    create_storage(hostile.api, hostile.tenant_id, root)
    opened = open_session(hostile.api, hostile.tenant_id, "sub/admin.key")

    with flipping(root / "sub", str(root / "real"), str(deployment.data_dir)):
        leaked, outcomes = _hammer(f"{opened.session.wopi_src}/contents?access_token={opened.access_token}", secret)
    assert leaked == 0, f"GetFile returned the operator's admin.key to a tenant token; outcomes: {outcomes}"


def test_sub_folder_flipped_into_another_tenants_folder_during_put_file_never_writes_there(
        deploy: Deploy, base: Path) -> None:
    """Attack, write side: the same flip of sub/ (./real <-> a victim tenant's folder) while the tenant
    saves sub/rN.docx over and over (several files, so that one waiting for its refused write to be
    settled does not hold the attack). publish() checks full_path() on the event loop and then, in a
    worker thread, fsyncs and os.replace()s the staged bytes onto the path: a flip in between replaces
    the victim tenant's rN.docx with the attacker's bytes."""
    deployment = deploy("split", control_args=("--tenant-file-base", str(base)))
    victim = base / "victim" / "docs"
    victim.mkdir(parents=True)
    hostile = hostile_tenant(deployment)
    root = base / hostile.tenant_id / "docs"
    (root / "real").mkdir(parents=True)
    (root / "sub").symlink_to(root / "real")
    create_storage(hostile.api, hostile.tenant_id, root)
    names = [f"r{i}.docx" for i in range(FILES)]
    urls = []
    for name in names:
        (victim / name).write_bytes(b"victim's content")
        (root / "real" / name).write_bytes(b"decoy")
        opened = open_session(hostile.api, hostile.tenant_id, f"sub/{name}")
        urls.append((f"{opened.session.wopi_src}?access_token={opened.access_token}",
                     f"{opened.session.wopi_src}/contents?access_token={opened.access_token}"))

    def overwritten() -> list[str]:
        return [n for n in names if (victim / n).read_bytes() != b"victim's content"]

    outcomes: dict[str, int] = {}
    with httpx.Client(timeout=30) as client:
        for url, _ in urls:
            assert client.post(url, headers={"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}).status_code == 200
        with flipping(root / "sub", str(root / "real"), str(victim)):
            for n in range(1, SAVES + 1):
                if overwritten():
                    break
                reply = client.post(urls[n % FILES][1], content=b"PWNED %d" % n,
                                    headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "L"})
                key = f"{reply.status_code} {reply.content[:30]!r}"
                outcomes[key] = outcomes.get(key, 0) + 1
    hit = overwritten()
    assert not hit, (f"another tenant's files were overwritten by a tenant's PutFile: "
                     f"{ {n: (victim / n).read_bytes() for n in hit} }; outcomes: {outcomes}")
