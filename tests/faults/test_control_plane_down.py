"""The control plane killed, frozen or without its database: editors hear 503 with Retry-After
(never 500, never a hang), readiness says so, and no byte of a save is lost."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from urllib.parse import urlsplit

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.storage.fsspec_storage import STAGE_BLOCK_SIZE
from tests.faults.conftest import poll, signal_process
from tests.support.api import LOCK, OpenFile, lock
from tests.support.deployment import Deployment

MiB = 1 << 20


def _check_file_info(http: httpx.Client, opened: OpenFile) -> httpx.Response:
    return http.get(opened.url())


def test_a_killed_control_plane_answers_503_with_retry_after_within_a_second_or_two(
        split: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    """Attack: the control plane dies; editors must not get 500 or wait out the deadline."""
    assert _check_file_info(http, opened).status_code == 200
    signal_process(split, "control", signal.SIGKILL)
    poll(lambda: _check_file_info(http, opened).status_code == 503, what="503 once the control plane is gone",
         log=split.log)
    started = time.monotonic()
    reply = _check_file_info(http, opened)
    elapsed = time.monotonic() - started
    assert reply.status_code == 503, reply.text
    assert reply.headers["Retry-After"].isdigit()
    assert reply.json()["error"] == "CONTROL_PLANE_UNAVAILABLE"
    assert elapsed < 1.5, f"a refused connection took {elapsed:.2f} s to answer"
    assert opened.local_path.read_bytes() == b"before"
    assert "Traceback" not in split.log(), split.log()


def test_a_frozen_control_plane_answers_503_after_the_deadline(
        split: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    """Attack: the control plane hangs (SIGSTOP); the edge's 2 s deadline must end the wait."""
    assert _check_file_info(http, opened).status_code == 200
    signal_process(split, "control", signal.SIGSTOP)
    started = time.monotonic()
    reply = _check_file_info(http, opened)
    elapsed = time.monotonic() - started
    signal_process(split, "control", signal.SIGCONT)
    assert reply.status_code == 503, reply.text
    assert "Retry-After" in reply.headers
    assert 1.5 <= elapsed < 10, f"answered after {elapsed:.2f} s"
    poll(lambda: _check_file_info(http, opened).status_code == 200, what="answers after SIGCONT", log=split.log)


def test_readyz_says_unavailable_while_the_control_plane_is_down_and_recovers_without_restart(
        split: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    """Attack: a load balancer keeps sending editors to an edge that cannot serve them."""
    edge_url = split.http_url
    poll(lambda: http.get(f"{edge_url}/readyz").status_code == 200, what="ready at start", log=split.log)
    signal_process(split, "control", signal.SIGSTOP)
    try:
        poll(lambda: http.get(f"{edge_url}/readyz").status_code == 503, what="/readyz 503", log=split.log)
        assert "Retry-After" in http.get(f"{edge_url}/readyz").headers
    finally:
        signal_process(split, "control", signal.SIGCONT)
    poll(lambda: http.get(f"{edge_url}/readyz").status_code == 200, what="/readyz 200 again", log=split.log)
    assert _check_file_info(http, opened).status_code == 200
    assert http.get(f"{edge_url}/healthz").status_code == 200  # liveness never depended on it


def _health(split: Deployment) -> int:
    with grpc.insecure_channel(split.grpc_address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError:
            return -1
        return int(reply.status)


def test_health_is_not_serving_while_the_database_cannot_answer(
        split: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    """Attack: the database is held (another writer holds SQLite's lock): the control plane must
    stop calling itself SERVING, and say SERVING again once the database answers."""
    assert _health(split) == health_pb2.HealthCheckResponse.SERVING
    blocker = sqlite3.connect(split.data_dir / "wopi-proxy.db", timeout=30, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        poll(lambda: _health(split) == health_pb2.HealthCheckResponse.NOT_SERVING, what="NOT_SERVING",
             log=split.log)
        poll(lambda: http.get(f"{split.http_url}/readyz").status_code == 503, what="edge not ready", log=split.log)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    poll(lambda: _health(split) == health_pb2.HealthCheckResponse.SERVING, what="SERVING again", log=split.log)
    poll(lambda: http.get(f"{split.http_url}/readyz").status_code == 200, what="edge ready again", log=split.log)


def test_a_save_the_control_plane_cannot_record_is_refused_and_its_bytes_are_kept(
        split: Deployment, opened: OpenFile, http: httpx.Client) -> None:
    """Attack: the control plane dies while an editor uploads; the save must not be reported as
    done, the file must not change behind the database's back, and the bytes must survive."""
    lock(http, opened)
    root = opened.local_path.parent
    body = b"n" * (3 * STAGE_BLOCK_SIZE)

    def slow_body() -> Iterator[bytes]:
        yield body[:2 * STAGE_BLOCK_SIZE]  # a first block is written once the second one began
        # The edge has authorized the save and is staging it: now the control plane goes.
        poll(lambda: list((root / ".wopi-staging").glob(".~wopi-*")), what="staging started", log=split.log)
        signal_process(split, "control", signal.SIGKILL)
        yield body[2 * STAGE_BLOCK_SIZE:]

    url = urlsplit(opened.url("/contents"))
    conn = HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    conn.request("POST", f"{url.path}?{url.query}", body=slow_body(),
                 headers={"X-WOPI-Override": "PUT", "X-WOPI-Lock": LOCK, "Content-Length": str(len(body))})
    reply = conn.getresponse()
    text = reply.read().decode()
    conn.close()
    assert reply.status == 503, f"{reply.status} {text}\n{split.log()}"
    assert reply.getheader("Retry-After")
    assert "not recorded" in text
    assert opened.local_path.read_bytes() == b"before"  # told "failed", and nothing changed
    kept = list((root / ".wopi-recovery" / opened.file_id).iterdir())
    assert [p.read_bytes() == body for p in kept] == [True], kept
    assert str(kept[0].relative_to(root)) in split.log()  # the operator is told where
    assert not list((root / ".wopi-staging").glob(".~wopi-*"))
