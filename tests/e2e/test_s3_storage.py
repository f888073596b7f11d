"""S3 storages end to end: `wopi-proxy serve` with a tenant whose storage is a bucket prefix on
a real SeaweedFS, and the storage's secrets kept out of reads and out of the database file."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import grpc
import httpx
import pytest
from cryptography.fernet import Fernet

from tests.support.api import ControlApi, OpenFile, lock, put, session_pb, storage_pb, tenant_pb
from tests.support.processes import WopiProxyProcess, serve
from tests.support.s3 import S3Server, fresh_bucket, session_s3_server

MiB = 1 << 20


@dataclass
class S3Tenant:
    tenant_id: str
    bucket: str
    root: str  # bucket/prefix
    created: storage_pb.Storage  # CreateStorage's reply


def _create_s3_tenant(api: ControlApi, s3: S3Server, bucket: str) -> S3Tenant:
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="S3 tenant"))
    root = f"{bucket}/tenants/{tenant_id}"
    created = api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
        tenant_id=tenant_id, name="docs", protocol="s3", root=root, options=s3.options))
    return S3Tenant(tenant_id, bucket, root, created)


def _open(api: ControlApi, s3: S3Server, tenant: S3Tenant, path: str, content: bytes) -> OpenFile:
    s3.filesystem().pipe_file(f"{tenant.root}/{path}", content)
    reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant.tenant_id, storage="docs", path=path, user_id="u1", user_name="Ann Example",
        permission=session_pb.PERMISSION_EDIT))
    return OpenFile(tenant_id=tenant.tenant_id, storage="docs", path=path,
                    local_path=Path(tenant.root) / path, session_id=reply.session.id,
                    file_id=reply.session.file_id, wopi_src=reply.session.wopi_src, token=reply.access_token)


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> S3Server:
    return session_s3_server(request.config)


@pytest.fixture
def bucket(s3: S3Server) -> Iterator[str]:
    with fresh_bucket(s3) as name:
        yield name


@pytest.fixture
def s3_tenant(api: ControlApi, s3: S3Server, bucket: str) -> S3Tenant:
    return _create_s3_tenant(api, s3, bucket)


# -- WOPI over S3 -------------------------------------------------------------------------------


def test_check_file_info_and_get_file_read_the_object(
    api: ControlApi, s3: S3Server, s3_tenant: S3Tenant, http: httpx.Client
) -> None:
    content = os.urandom(5 * MiB + 17)
    f = _open(api, s3, s3_tenant, "reports/q1.docx", content)

    info = http.get(f.url()).json()
    got = http.get(f.url("/contents"))

    assert (info["BaseFileName"], info["Size"]) == ("q1.docx", len(content))
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["Content-Length"] == str(len(content))
    assert got.headers["X-WOPI-ItemVersion"] == info["Version"]


def test_put_file_under_a_lock_replaces_the_object(
    api: ControlApi, s3: S3Server, s3_tenant: S3Tenant, http: httpx.Client
) -> None:
    f = _open(api, s3, s3_tenant, "c.docx", b"old content")
    before = http.get(f.url()).json()["Version"]
    new = os.urandom(3 * MiB)

    lock(http, f)
    saved = put(http, f, new)
    got = http.get(f.url("/contents"))

    assert saved.status_code == 200, saved.text
    assert got.content == new
    assert got.headers["X-WOPI-ItemVersion"] == saved.headers["X-WOPI-ItemVersion"] != before
    fs = s3.filesystem()
    assert fs.cat_file(f"{s3_tenant.root}/c.docx") == new
    # The previous content is kept as version 1; no temporary object is left behind.
    names = sorted(n.removeprefix(s3_tenant.root + "/") for n in fs.find(s3_tenant.root))
    assert names == [".wopi-versions/" + f.file_id + "/1", "c.docx"]
    assert fs.cat_file(f"{s3_tenant.root}/.wopi-versions/{f.file_id}/1") == b"old content"


def test_an_s3_storage_with_a_wrong_secret_is_refused_with_the_cause(
    api: ControlApi, s3: S3Server, bucket: str
) -> None:
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="S3 tenant"))
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="docs", protocol="s3", root=f"{bucket}/docs",
            options={**s3.options, "secret": "not-the-secret"}))

    details = caught.value.details() or ""
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "access denied" in details and "signature" in details.lower()
    assert "not-the-secret" not in details


def test_an_s3_storage_on_a_missing_bucket_is_refused_with_the_cause(api: ControlApi, s3: S3Server) -> None:
    tenant_id = "t-" + secrets.token_hex(4)
    api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="S3 tenant"))
    with pytest.raises(grpc.RpcError) as caught:
        api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="docs", protocol="s3", root="no-such-bucket/docs", options=s3.options))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "bucket 'no-such-bucket' does not exist" in (caught.value.details() or "")


# -- secrets ------------------------------------------------------------------------------------


def test_reads_never_show_the_secret_options(api: ControlApi, s3: S3Server, s3_tenant: S3Tenant) -> None:
    tenant_id = s3_tenant.tenant_id
    got = api.call(api.storages.GetStorage, storage_pb.GetStorageRequest(tenant_id=tenant_id, name="docs"))
    listed = api.call(api.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))

    shown = {"endpoint_url": s3.endpoint_url, "key": "***", "secret": "***"}
    assert dict(s3_tenant.created.options) == shown
    assert dict(got.options) == shown
    assert [dict(s.options) for s in listed.storages] == [shown]


def test_the_database_never_holds_the_secret_in_clear(
    server: WopiProxyProcess, api: ControlApi, s3: S3Server, s3_tenant: S3Tenant, http: httpx.Client
) -> None:
    f = _open(api, s3, s3_tenant, "d.docx", b"content")
    assert http.get(f.url("/contents")).content == b"content"  # the edge got the real options

    data_dir = server.workdir / "data"
    stored = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.name.startswith("wopi-proxy.db"))
    assert s3.endpoint_url.encode() not in stored  # the whole options document is encrypted
    assert s3.secret.encode() not in stored
    key_file = data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_bytes().strip())  # a valid key


def test_the_key_from_the_environment_is_used_and_a_wrong_key_stops_the_start(
    tmp_path: Path, s3: S3Server, bucket: str
) -> None:
    key = Fernet.generate_key().decode()
    proc = serve(tmp_path, env={"WOPI_PROXY_SECRET_KEY": key})
    try:
        api = ControlApi(proc.grpc_address, (tmp_path / "data" / "admin.key").read_text().strip())
        _create_s3_tenant(api, s3, bucket)
        api.close()
    finally:
        proc.stop()
    assert not (tmp_path / "data" / "secret.key").exists()

    wrong_key = "cannot be decrypted with the secret key from WOPI_PROXY_SECRET_KEY"
    with pytest.raises(RuntimeError, match=wrong_key):
        serve(tmp_path, env={"WOPI_PROXY_SECRET_KEY": Fernet.generate_key().decode()})


# -- memory ---------------------------------------------------------------------------------------


class _PeakRss:
    """Samples a process's resident memory every 10 ms (Linux /proc) while a block runs."""

    def __init__(self, pid: int) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self.peak_kib = 0
        self._stop = threading.Event()

    def _rss_kib(self) -> int:
        for line in self._status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_kib = max(self.peak_kib, self._rss_kib())

    def __enter__(self) -> Self:
        self.before_kib = self._rss_kib()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _body(size: int, seed: bytes) -> Iterator[bytes]:
    block = hashlib.sha256(seed).digest() * (MiB // 32)
    for _ in range(size // MiB):
        yield block


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_of_100_mib_over_s3_is_measured(
    server: WopiProxyProcess, api: ControlApi, s3: S3Server, s3_tenant: S3Tenant,
    record_property: Callable[[str, object], None],
) -> None:
    """Not a limit: the figures are printed (pytest -s) and recorded in the junit properties."""
    size = 100 * MiB
    f = _open(api, s3, s3_tenant, "big.bin", b"".join(_body(size, b"old")))
    assert server.process is not None
    with httpx.Client(timeout=120) as http:
        with _PeakRss(server.process.pid) as get_rss:
            started = time.monotonic()
            digest, received = hashlib.sha256(), 0
            with http.stream("GET", f.url("/contents")) as reply:
                for chunk in reply.iter_bytes():
                    digest.update(chunk)
                    received += len(chunk)
            get_s = time.monotonic() - started
        assert received == size
        assert digest.hexdigest() == hashlib.sha256(b"".join(_body(size, b"old"))).hexdigest()

        lock(http, f)
        with _PeakRss(server.process.pid) as put_rss:
            started = time.monotonic()
            saved = http.post(f.url("/contents"), content=_body(size, b"new"),
                              headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": "test-lock-1"})
            put_s = time.monotonic() - started
        assert saved.status_code == 200, saved.text

    figures = {
        "rss_before_get_mib": get_rss.before_kib / 1024, "rss_peak_get_mib": get_rss.peak_kib / 1024,
        "get_seconds": get_s, "rss_before_put_mib": put_rss.before_kib / 1024,
        "rss_peak_put_mib": put_rss.peak_kib / 1024, "put_seconds": put_s,
    }
    for name, value in figures.items():
        record_property(name, round(value, 1))
    print("\nS3 100 MiB, serve process:", ", ".join(f"{k}={v:.1f}" for k, v in figures.items()))
