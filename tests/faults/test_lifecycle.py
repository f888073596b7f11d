"""Things that must happen by themselves or end cleanly: expired sessions, staging objects left
by crashes, early replies to big uploads, SIGTERM during a save."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
import pytest

from shared.storage.fsspec_storage import STAGE_BLOCK_SIZE
from tests.faults.conftest import poll
from tests.support.api import LOCK, ControlApi, OpenFile, lock, new_tenant, open_file, session_pb
from tests.support.processes import WopiProxyProcess, serve

MiB = 1 << 20
BLOCKS = 2 * STAGE_BLOCK_SIZE  # staging writes its first block to disk once the second began


@pytest.fixture
def fast_jobs(tmp_path: Path) -> Iterator[WopiProxyProcess]:
    """`serve` whose background jobs run every second (sessions) and sweep staging objects older
    than a minute."""
    proc = serve(tmp_path / "serve", "--session-expiry-interval", "1", "--staging-max-age", "60")
    yield proc
    proc.stop()


def _api(proc: WopiProxyProcess) -> ControlApi:
    return ControlApi(proc.grpc_address, (proc.workdir / "data" / "admin.key").read_text().strip())


def test_an_expired_session_gets_its_expired_event_without_any_cron(fast_jobs: WopiProxyProcess,
                                                                   tmp_path: Path) -> None:
    """Attack: nobody calls CleanupSessions; the application must still hear that the session
    ended (its webhook is fed by the same event)."""
    api = _api(fast_jobs)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "a.docx")
    # Sessions last at least a minute: the test moves this one's expiry into the past instead.
    with sqlite3.connect(fast_jobs.workdir / "data" / "wopi-proxy.db", timeout=30) as db:
        db.execute("UPDATE sessions SET expire_time = ? WHERE id = ?", (int(time.time() * 1000) - 1000,
                                                                       opened.session_id))
    stream = api.sessions.WatchSessionEvents(
        session_pb.WatchSessionEventsRequest(tenant_id=tenant_id, cursor="0"), metadata=api.metadata, timeout=30)
    seen = []
    try:
        for event in stream:
            seen.append((event.type, event.session_id))
            if event.type == session_pb.SESSION_EVENT_TYPE_EXPIRED and event.session_id == opened.session_id:
                break
    except grpc.RpcError as error:
        pytest.fail(f"no expired event ({error.code()}); saw {seen}\n{fast_jobs.log()}")
    finally:
        stream.cancel()
    got = api.call(api.sessions.GetSession, session_pb.GetSessionRequest(id=opened.session_id))
    assert got.state == session_pb.SESSION_STATE_EXPIRED
    api.close()


def test_staging_objects_left_by_a_crash_are_swept_and_young_ones_kept(tmp_path: Path) -> None:
    """Attack: crashes mid-save leave staging objects that would fill the storage forever."""
    workdir = tmp_path / "serve"
    proc = serve(workdir, "--staging-max-age", "60")
    api = _api(proc)
    _, folder = new_tenant(api, tmp_path / "storage")
    api.close()
    proc.stop()
    staging = folder / ".wopi-staging"
    staging.mkdir()
    old, young = staging / ".~wopi-0123456789abcdef.tmp", staging / ".~wopi-fedcba9876543210.tmp"
    old.write_bytes(b"abandoned")
    young.write_bytes(b"in progress")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    proc = serve(workdir, "--staging-max-age", "60")  # the sweep runs at start
    try:
        # The line is logged once the sweep's thread is done: after the file is gone.
        poll(lambda: "staging sweep removed 1" in proc.log(), what="the sweep's report", log=proc.log)
        assert not old.exists()
        assert young.exists()
    finally:
        proc.stop()


def test_saves_stage_outside_the_editors_folders(server: WopiProxyProcess, api: ControlApi, tmp_path: Path,
                                                 http: httpx.Client) -> None:
    """Attack: a folder listing during a save shows .~wopi-*.tmp files next to the document."""
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "sub/a.docx", b"before")
    lock(http, opened)
    seen_beside: list[list[str]] = []

    def body() -> Iterator[bytes]:
        yield b"x" * BLOCKS  # a first block is written once the second one began
        poll(lambda: list((folder / ".wopi-staging").glob("*")), what="staging object")
        seen_beside.append(sorted(p.name for p in (folder / "sub").iterdir()))
        yield b"y" * MiB

    reply = _post(opened, body(), BLOCKS + MiB)
    assert reply[0] == 200, reply
    assert seen_beside == [["a.docx"]]
    assert opened.local_path.read_bytes() == b"x" * BLOCKS + b"y" * MiB
    assert list((folder / ".wopi-staging").iterdir()) == []


def _post(opened: OpenFile, body: Iterator[bytes], length: int) -> tuple[int, str]:
    url = urlsplit(opened.url("/contents"))
    conn = HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        conn.request("POST", f"{url.path}?{url.query}", body=body,
                     headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": LOCK, "Content-Length": str(length)})
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1))


def _early_reply_closes(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /wopi/files/abc/contents?access_token=wrong HTTP/1.1\r\nHost: edge\r\n"
                     b"X-WOPI-Override: PUT\r\nContent-Length: 5242880\r\n\r\n" + b"z" * 65536)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return received  # EOF: the server closed the connection
            received += chunk
        pytest.fail(f"the connection stayed open after {received[:200]!r}")


def test_an_early_reply_to_a_big_upload_closes_the_connection(server: WopiProxyProcess) -> None:
    """Attack: headers of a 5 MiB upload with a bad token, then silence (or the body, slowly):
    a keep-alive connection waiting for the body would pile up with every such request."""
    port = server.ports["http_port"]
    answer = _early_reply_closes(port)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert server.process is not None
    before = _rss_kib(server.process.pid)
    for _ in range(50):
        _early_reply_closes(port)
    grown_mib = (_rss_kib(server.process.pid) - before) / 1024
    assert grown_mib < 32, f"RSS grew {grown_mib:.1f} MiB over 50 abandoned uploads"


def test_sigterm_lets_a_save_in_flight_finish_and_exits_cleanly(tmp_path: Path) -> None:
    """Attack: a deploy stops the process while an editor saves; the save must complete (200,
    stored), new connections are refused, and the process exits 0 without a traceback."""
    proc = serve(tmp_path / "serve")
    api = _api(proc)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    opened = open_file(api, tenant_id, folder, "a.docx", b"before")
    api.close()
    with httpx.Client(timeout=30) as http:
        lock(http, opened)

    def body() -> Iterator[bytes]:
        yield b"1" * BLOCKS  # a first block is written once the second one began
        poll(lambda: list((folder / ".wopi-staging").glob("*")), what="the save is staging", log=proc.log)
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
        poll(lambda: "stopping" in proc.log(), what="shutdown started", log=proc.log)
        yield b"2" * MiB

    status, text = _post(opened, body(), BLOCKS + MiB)
    assert status == 200, f"{status} {text}\n{proc.log()}"
    assert proc.process is not None
    code = proc.process.wait(30)
    assert code == 0, proc.log()
    assert "Traceback" not in proc.log(), proc.log()
    assert opened.local_path.read_bytes() == b"1" * BLOCKS + b"2" * MiB
