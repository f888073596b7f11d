"""Two control-plane replicas over one PostgreSQL database, two edges that know both: the
production shape of issue "Scale out". Whatever one replica changes, the other honours within a
second; background jobs run once; one replica may die under load without a failed read."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.e2e.test_events_and_webhooks import EventStream, Receiver, set_webhook
from tests.e2e.test_lock_race import _race
from tests.scale.cluster import Cluster, holder_pid
from tests.scale.conftest import LEASE_TTL_S
from tests.support.api import OpenFile, new_tenant, open_file, session_pb, storage_pb, tenant_pb

pytestmark = pytest.mark.postgres

PROPAGATION_S = 1.0  # the promise: every replica honours a change within a second
SLACK_S = 0.5  # for a loaded test machine
ROUNDS = 200
# The background jobs control/server.py runs under a lease (webhooks, discovery refresh, audit
# retention, launch-code purge, session expiry, staging sweep, write-intent sweep).
LEASED_JOBS = 7


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _urls(cluster: Cluster, f: OpenFile, suffix: str = "") -> list[str]:
    return [f"{base}/wopi/files/{f.file_id}{suffix}?access_token={f.token}" for base in cluster.edge_urls]


def _verify_audit(cluster: Cluster, replica: int) -> None:
    stub = audit_grpc.AuditServiceStub(cluster.api(replica).channel)
    reply = stub.VerifyAuditChain(audit_pb.VerifyAuditChainRequest(), metadata=cluster.api(replica).metadata,
                                  timeout=60)
    assert reply.ok and reply.checked > 0, f"{reply}\n{cluster.log()}"


def _until(condition: Callable[[], bool], deadline_s: float) -> float:
    """Polls `condition` until true; returns the seconds it took (inf when the deadline passed)."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.02)
    return float("inf")


def _refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except grpc.RpcError as error:
        return error.code() in (grpc.StatusCode.UNAUTHENTICATED,  # type: ignore[attr-defined]
                                grpc.StatusCode.PERMISSION_DENIED)
    return False


def test_two_edges_over_two_replicas_race_for_a_lock_with_one_winner_each_round(
        cluster: Cluster, tmp_path: Path) -> None:
    """Attack: two editors on different edges, whose calls reach different replicas, both take the
    lock; the compare-and-set lives in the shared database, so one wins every round."""
    api = cluster.api(0)
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "contested.docx", b"contested")
    urls = _urls(cluster, f)
    clients = [httpx.Client(timeout=30) for _ in urls]
    try:
        for round_number in range(ROUNDS):
            ids = [f"edge0-{round_number}", f"edge1-{round_number}"]
            replies = _race(clients, urls, ids)
            statuses = sorted(r.status_code for r in replies)
            assert statuses == [200, 409], f"round {round_number}: {statuses}\n{cluster.log()}"
            winner = ids[[r.status_code for r in replies].index(200)]
            loser = next(r for r in replies if r.status_code == 409)
            assert loser.headers["X-WOPI-Lock"] == winner
            unlock = clients[round_number % 2].post(urls[round_number % 2], headers={
                "X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": winner})
            assert unlock.status_code == 200, unlock.text
    finally:
        for client in clients:
            client.close()
    for replica in (0, 1):
        _verify_audit(cluster, replica)


def test_a_session_closed_through_one_replica_is_refused_on_every_edge_within_a_second(
        cluster: Cluster, tmp_path: Path, http: httpx.Client) -> None:
    """Attack: keep using a session after the application closed it, through another edge whose
    calls go to another replica than the one that closed it."""
    api = cluster.api(0)
    f = open_file(api, *new_tenant(api, tmp_path / "storage"), "closing.docx")
    urls = _urls(cluster, f)
    for url in urls:
        assert http.get(url).status_code == 200
    cluster.api(1).call(cluster.api(1).sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    took = _until(lambda: all(http.get(url).status_code == 401 for url in urls), PROPAGATION_S + SLACK_S)
    assert took <= PROPAGATION_S + SLACK_S, f"still served {PROPAGATION_S + SLACK_S}s after the close\n{cluster.log()}"


def _tenant_key(cluster: Cluster, tenant_id: str) -> tuple[str, str]:
    admin = cluster.api(0)
    reply = key_grpc.KeyServiceStub(admin.channel).CreateApiKey(
        key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="scale test"), metadata=admin.metadata,
        timeout=15)
    return reply.key_id, reply.api_key


def test_a_key_revoked_through_one_replica_is_refused_by_the_other_within_a_second(
        cluster: Cluster, tmp_path: Path) -> None:
    """Attack: a leaked tenant key keeps working on the replica that had it cached after the
    operator revoked it through another replica."""
    tenant_id, _ = new_tenant(cluster.api(0), tmp_path / "storage")
    key_id, secret = _tenant_key(cluster, tenant_id)
    other = cluster.api(1, secret)

    def get_tenant() -> object:
        return other.call(other.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))

    get_tenant()  # cached by replica 1 now
    admin = cluster.api(0)
    key_grpc.KeyServiceStub(admin.channel).RevokeApiKey(key_pb.RevokeApiKeyRequest(id=key_id),
                                                        metadata=admin.metadata, timeout=15)
    took = _until(lambda: _refused(get_tenant), PROPAGATION_S + SLACK_S)
    assert took <= PROPAGATION_S + SLACK_S, f"replica 1 still honours the revoked key\n{cluster.log()}"


def test_a_tenant_disabled_through_one_replica_is_refused_by_the_other_within_a_second(
        cluster: Cluster, tmp_path: Path) -> None:
    """Attack: a disabled tenant's key keeps working on the replica that had it cached."""
    tenant_id, _ = new_tenant(cluster.api(0), tmp_path / "storage")
    _, secret = _tenant_key(cluster, tenant_id)
    other = cluster.api(1, secret)

    def get_tenant() -> object:
        return other.call(other.storages.ListStorages, storage_pb.ListStoragesRequest(tenant_id=tenant_id))

    get_tenant()
    admin = cluster.api(0)
    admin.call(admin.tenants.UpdateTenant, tenant_pb.UpdateTenantRequest(
        tenant=tenant_pb.Tenant(id=tenant_id, enabled=False), update_mask=field_mask_pb2.FieldMask(paths=["enabled"])))
    took = _until(lambda: _refused(get_tenant), PROPAGATION_S + SLACK_S)
    assert took <= PROPAGATION_S + SLACK_S, f"replica 1 still honours the disabled tenant\n{cluster.log()}"


def _sessions_through_both(cluster: Cluster, tenant_id: str, folder: Path, count: int) -> set[tuple[str, str]]:
    """Opens and closes `count` sessions, alternating replicas; returns the (session, event type)
    pairs this makes."""
    expected = set()
    for i in range(count):
        api = cluster.api(i % 2)
        f = open_file(api, tenant_id, folder, f"doc{i}.docx")
        closer = cluster.api((i + 1) % 2)
        closer.call(closer.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
        expected |= {(f.session_id, "opened"), (f.session_id, "closed")}
    return expected


def _delivered(receiver: Receiver) -> Counter[tuple[str, str]]:
    return Counter((d.event["session_id"], d.event["type"]) for d in list(receiver.deliveries))


def test_webhooks_are_delivered_once_per_event_while_both_replicas_run(
        cluster: Cluster, tmp_path: Path, receiver: Receiver) -> None:
    """Attack on integrity: with two replicas each running webhook delivery, every event would be
    POSTed twice (a receiver charging per event charges twice). Only the lease holder delivers,
    and each POST names its event in X-Wopi-Proxy-Event-Id for de-duplication."""
    tenant_id, folder = new_tenant(cluster.api(0), tmp_path / "storage")
    set_webhook(cluster.api(0), tenant_id, receiver.url)
    expected = _sessions_through_both(cluster, tenant_id, folder, 10)
    assert _until(lambda: set(_delivered(receiver)) >= expected, 30) < 30, f"{_delivered(receiver)}\n{cluster.log()}"
    # Duplicates would come from the other replica's delivery round: give it several rounds.
    _until(lambda: max(_delivered(receiver).values()) > 1, 3 * LEASE_TTL_S)
    counts = _delivered(receiver)
    assert set(counts) == expected and set(counts.values()) == {1}, f"{counts}\n{cluster.log()}"
    ids = [d.headers.get("X-Wopi-Proxy-Event-Id") for d in receiver.deliveries]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all(d.headers["X-Wopi-Proxy-Event-Id"] == d.event["cursor"] for d in receiver.deliveries)


def test_a_cursor_one_replica_issued_resumes_a_stream_on_the_other(cluster: Cluster, tmp_path: Path) -> None:
    """Cursors are opaque (encrypted ids): every replica derives the same key from the shared secret."""
    tenant_id, folder = new_tenant(cluster.api(0), tmp_path / "storage")
    with EventStream(cluster.api(0), tenant_id=tenant_id, cursor="0") as first:
        one = open_file(cluster.api(0), tenant_id, folder, "one.docx")
        cursor = first.next().cursor
    two = open_file(cluster.api(1), tenant_id, folder, "two.docx")
    with EventStream(cluster.api(1), tenant_id=tenant_id, cursor=cursor) as resumed:
        assert resumed.next().session_id == two.session_id != one.session_id


class ReadLoad:
    """CheckFileInfo and GetFile through every edge from several threads, counting failures."""

    def __init__(self, urls: list[str], threads: int = 4) -> None:
        self.urls = urls
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        with httpx.Client(timeout=30) as http:
            n = index
            while not self._stop.is_set():
                url = self.urls[n % len(self.urls)]
                n += 1
                try:
                    reply = http.get(url) if n % 2 else http.get(url.replace("?", "/contents?"))
                    failed = "" if reply.status_code == 200 else f"{reply.status_code} {reply.text[:200]}"
                except httpx.HTTPError as exc:
                    failed = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if failed:
                        self.failures.append(failed)
                    else:
                        self.ok += 1

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def test_a_replica_killed_under_load_fails_no_read_and_its_leases_pass_to_the_other(
        cluster: Cluster, tmp_path: Path, receiver: Receiver) -> None:
    """Failure: one replica dies (SIGKILL: no clean shutdown, its leases are not released) while
    editors read. Reads are retried on the other replica, so none fails; the other replica takes
    over the dead one's leases once they expire, and its jobs (webhook delivery) keep running."""
    doomed, survivor = cluster.controls
    assert _until(lambda: len(cluster.leases()) == LEASED_JOBS, 10) < 10, cluster.leases()
    assert {holder_pid(h) for h in cluster.leases().values()} == {doomed.process.pid}, cluster.leases()  # type: ignore[union-attr]
    api = cluster.api(1)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    set_webhook(api, tenant_id, receiver.url)
    f = open_file(api, tenant_id, folder, "read-me.docx", b"x" * 10_000)
    with ReadLoad(_urls(cluster, f)) as load:
        assert _until(lambda: load.ok > 50, 30) < 30, load.failures[:5]
        doomed.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        doomed.process.wait(10)  # type: ignore[union-attr]
        before = load.ok
        took = _until(lambda: {holder_pid(h) for h in cluster.leases().values()} == {survivor.process.pid}  # type: ignore[union-attr]
                      and len(cluster.leases()) == LEASED_JOBS, 5 * LEASE_TTL_S)
        assert took < 5 * LEASE_TTL_S, f"{cluster.leases()}\n{cluster.log()}"
        assert _until(lambda: load.ok > before + 50, 30) < 30, load.failures[:5]
    assert load.failures == [], f"{len(load.failures)} failed of {load.ok}: {load.failures[:5]}\n{cluster.log()}"
    api.call(api.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
    assert _until(lambda: (f.session_id, "closed") in _delivered(receiver), 30) < 30, \
        f"the webhook job did not move to the surviving replica\n{cluster.log()}"
    _verify_audit(cluster, 1)
