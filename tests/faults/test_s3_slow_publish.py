"""Fault: the S3 server is slow to carry out one save's publish (the server-side copy onto the
file). The write intent expires and is abandoned meanwhile; a later save of the same editor is
accepted (200) and published; then the slow copy lands over it.

Promise under test: the database never says a save happened that storage does not hold, and
nothing an editor was told was saved is lost."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.faults.s3_rig import HoldingProxy, Procs, poll
from tests.support.api import OpenFile, lock, put, session_pb, storage_pb, tenant_pb
from tests.support.s3 import S3Server, fresh_bucket, session_s3_server

OLD, A, B = b"old " * 1000, b"A: the first save " * 1000, b"B: the later save " * 1000
LOCK_ID = "L-slow-s3"
EGRESS = ("--egress-allow", "127.0.0.1/32")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def s3(request: pytest.FixtureRequest) -> S3Server:
    return session_s3_server(request.config)


@pytest.fixture
def bucket(s3: S3Server) -> Iterator[str]:
    with fresh_bucket(s3) as name:
        yield name


def test_a_publish_that_lands_after_its_intent_was_abandoned_overwrites_a_confirmed_save(
        tmp_path: Path, s3: S3Server, bucket: str) -> None:
    tenant_id = "t-" + secrets.token_hex(4)
    root = f"{bucket}/tenants/{tenant_id}"
    doc_key = f"/{root}/doc.docx".encode()
    upstream = urlsplit(s3.endpoint_url)
    # Hold the server-side copy that publishes a save onto the file (not the keep-copy to versions).
    proxy = HoldingProxy((upstream.hostname or "127.0.0.1", upstream.port or 80),
                         hold_when=lambda d: d.startswith(b"PUT " + doc_key + b" ")
                         and b"x-amz-copy-source" in d.lower())
    procs = Procs(tmp_path / "rig", control_extra=("--write-intent-ttl", "2", "--intent-sweep-interval", "0.5",
                                                   *EGRESS), edge_extra=EGRESS).start()
    first: dict[str, object] = {}
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
        with httpx.Client(timeout=120) as http:
            lock(http, f, LOCK_ID)

        def save_a() -> None:
            with httpx.Client(timeout=120) as client:
                first["reply"] = put(client, f, A, lock_id=LOCK_ID)

        a = threading.Thread(target=save_a)
        a.start()
        # Save A has begun, kept the old bytes and is publishing: S3 is slow to carry out the copy.
        poll(proxy.held.is_set, what="save A's publish to reach S3", log=procs.log)
        # The intent's TTL passes; the sweep sees old bytes in storage and abandons save A.
        poll(lambda: procs.rows("SELECT state FROM write_intents WHERE file_id = :f AND size = :s",
                                f=f.file_id, s=len(A)) == [("abandoned",)],
             what="save A's intent abandoned by the sweep", log=procs.log)
        with httpx.Client(timeout=120) as http:
            saved_b = put(http, f, B, lock_id=LOCK_ID)  # the editor saves again: newer content
        assert saved_b.status_code == 200, f"{saved_b.status_code} {saved_b.text}\n{procs.log()}"
        # S3 now carries out save A's copy.
        proxy.release()
        a.join(120)
        reply_a = first.get("reply")
        stored = s3.filesystem().cat_file(f"{root}/doc.docx")
        [(version, recorded_sha)] = procs.rows("SELECT version, sha256 FROM files WHERE id = :f", f=f.file_id)
        kept = [s3.filesystem().cat_file(p) for p in s3.filesystem().find(f"{root}") if "/.wopi-versions/" in p
                or "versions" in p]
        told_a = (reply_a.status_code, reply_a.text[:200]) if reply_a is not None else None
        what = {OLD: "OLD", A: "A", B: "B"}
        summary = (f"editor told: A -> {told_a}, B -> {saved_b.status_code}; storage holds "
                   f"{what.get(stored, stored[:20])}; database says version {version} with sha256 of "
                   f"{ {sha(k): v for k, v in what.items()}.get(recorded_sha, recorded_sha) }; kept versions hold "
                   f"{[what.get(k, k[:20]) for k in kept]}")
        # The database's current content is what storage holds ...
        assert recorded_sha == sha(stored), summary + "\n" + procs.log()
        # ... and the save the editor was told succeeded (B) is somewhere: the file or a kept version.
        assert stored == B or B in kept, summary + "\n" + procs.log()
    finally:
        proxy.close()
        procs.stop()
