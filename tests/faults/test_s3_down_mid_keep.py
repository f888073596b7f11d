"""Fault: the S3 server becomes unreachable while a save keeps the previous version (after
BeginWrite), and comes back a moment later. The editor is told 503 (Retry-After) and asks again.

Question: once S3 is back, is the editor's retry accepted, or does the first save's intent (its
AbandonWrite could not be settled while storage was unreachable) refuse saves until its TTL
(60 s by default) runs out?"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.faults.s3_rig import HoldingProxy, Procs, poll
from tests.support.api import OpenFile, lock, put, session_pb, storage_pb, tenant_pb
from tests.support.s3 import S3Server, fresh_bucket, session_s3_server

OLD, NEW = b"old " * 1000, b"new " * 1000
LOCK_ID = "L-s3-down"
EGRESS = ("--egress-allow", "127.0.0.1/32")


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> S3Server:
    return session_s3_server(request.config)


@pytest.fixture
def bucket(s3: S3Server) -> Iterator[str]:
    with fresh_bucket(s3) as name:
        yield name


def test_s3_unreachable_mid_keep_answers_503_and_a_retry_is_accepted(tmp_path: Path, s3: S3Server, bucket: str) -> None:
    tenant_id = "t-" + secrets.token_hex(4)
    root = f"{bucket}/tenants/{tenant_id}"
    upstream = urlsplit(s3.endpoint_url)
    # The keep-copy of the previous bytes: a server-side copy whose source is the file.
    source = f"{root}/doc.docx".encode()
    proxy = HoldingProxy((upstream.hostname or "127.0.0.1", upstream.port or 80),
                         hold_when=lambda d: d.startswith(b"PUT ") and b"x-amz-copy-source" in d.lower()
                         and source in d and b"/doc.docx " not in d.split(b"\r\n", 1)[0])
    procs = Procs(tmp_path / "rig", control_extra=EGRESS, edge_extra=EGRESS).start()  # default TTL (60 s)
    try:
        api = procs.api()
        api.call(api.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name="S3 tenant"))
        api.call(api.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="docs", protocol="s3", root=root,
            options={**s3.options, "endpoint_url": proxy.url}))
        s3.filesystem().pipe_file(f"{root}/doc.docx", OLD)
        reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="doc.docx", user_id="u1", user_name="Ann",
            permission=session_pb.PERMISSION_EDIT))
        f = OpenFile(tenant_id=tenant_id, storage="docs", path="doc.docx", local_path=Path(root) / "doc.docx",
                     session_id=reply.session.id, file_id=reply.session.file_id, wopi_src=reply.session.wopi_src,
                     token=reply.access_token)
        told: dict[str, httpx.Response] = {}
        with httpx.Client(timeout=120) as http:
            lock(http, f, LOCK_ID)
            saver = threading.Thread(target=lambda: told.__setitem__("first", put(http, f, NEW, lock_id=LOCK_ID)))
            saver.start()
            poll(proxy.held.is_set, what="the keep-copy reaching S3", log=procs.log)
            proxy.refuse = True  # S3 goes away: the held request and every new connection fail
            proxy.release(drop=True)
            saver.join(120)
            first = told["first"]
            # "503 when a dependency is down", with Retry-After: not 500 "internal error (incident)".
            assert first.status_code == 503 and first.headers.get("Retry-After"), (
                f"{first.status_code} {first.text}\n{procs.log()}")
            proxy.refuse = False  # S3 is back
            poll(lambda: http.get(f.url()).status_code == 200, what="CheckFileInfo once S3 is back",
                 log=procs.log)
            started = time.monotonic()
            retry = put(http, f, NEW, lock_id=LOCK_ID)
        pending = procs.rows("SELECT state, resolution FROM write_intents WHERE file_id = :f", f=f.file_id)
        stored = s3.filesystem().cat_file(f"{root}/doc.docx")
        assert retry.status_code == 200, (
            f"first save: {first.status_code}; S3 back, retry after {time.monotonic() - started:.1f}s: "
            f"{retry.status_code} {retry.text[:200]}; intents {pending}; storage holds "
            f"{'NEW' if stored == NEW else 'OLD'}\n{procs.log()}")
        assert hashlib.sha256(stored).hexdigest() == procs.rows(
            "SELECT sha256 FROM files WHERE id = :f", f=f.file_id)[0][0]
    finally:
        proxy.close()
        procs.stop()
