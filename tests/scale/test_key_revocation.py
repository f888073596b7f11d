"""A leaked tenant key revoked with close_sessions, across two control replicas and two edges on
PostgreSQL: the sessions it minted are refused on both edges within the contract's second, and the
replica that still has the key cached cannot mint one more. Security review F5 (its probe
test_a_session_minted_by_a_revoked_key_is_refused, with the option it asked for)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc

from tests.scale.cluster import Cluster
from tests.support.api import ControlApi, new_tenant, session_pb

pytestmark = pytest.mark.postgres

CONTRACT_S = 1.0  # a revoked key or closed session is refused everywhere within a second
POLL_S = 3.0


def _until(condition: Callable[[], bool], deadline_s: float = POLL_S) -> float:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    return float("inf")


def _tenant_key(cluster: Cluster, tenant_id: str) -> tuple[str, str]:
    admin = cluster.api(0)
    reply = key_grpc.KeyServiceStub(admin.channel).CreateApiKey(
        key_pb.CreateApiKeyRequest(tenant_id=tenant_id, description="leaver"), metadata=admin.metadata, timeout=15)
    return reply.key_id, reply.api_key


def _week_long_session(api: ControlApi, tenant_id: str) -> session_pb.CreateSessionResponse:
    return api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
        tenant_id=tenant_id, storage="docs", path="secret.docx", user_id="mallory", ttl_seconds=7 * 24 * 3600,
        permission=session_pb.PERMISSION_EDIT))


def _revoke(cluster: Cluster, key_id: str) -> None:
    admin = cluster.api(0)
    key_grpc.KeyServiceStub(admin.channel).RevokeApiKey(key_pb.RevokeApiKeyRequest(id=key_id, close_sessions=True),
                                                        metadata=admin.metadata, timeout=15)


def test_sessions_minted_by_a_key_revoked_with_close_sessions_are_refused_on_both_edges_within_1s(
        cluster: Cluster, tmp_path: Path, http: httpx.Client) -> None:
    tenant_id, folder = new_tenant(cluster.api(0), tmp_path / "s")
    key_id, secret = _tenant_key(cluster, tenant_id)
    (folder / "secret.docx").write_bytes(b"payroll")
    reply = _week_long_session(cluster.api(1, secret), tenant_id)
    urls = [f"{b}/wopi/files/{reply.session.file_id}/contents?access_token={reply.access_token}"
            for b in cluster.edge_urls]
    assert [http.get(u).status_code for u in urls] == [200, 200]

    _revoke(cluster, key_id)

    took = _until(lambda: all(http.get(u).status_code == 401 for u in urls))
    assert took <= CONTRACT_S, f"the revoked key's token still reads the file after {took:.3f}s\n{cluster.log()}"


def test_the_replica_that_still_caches_a_revoked_key_cannot_mint_a_session_that_outlives_it(
        cluster: Cluster, tmp_path: Path) -> None:
    """Replica 1 authenticated the key a moment ago (its cache may honour it for up to 0.75 s after
    replica 0 revoked it): a CreateSession it lets through must be refused in its transaction, or
    it would open a session that close_sessions did not see."""
    tenant_id, folder = new_tenant(cluster.api(0), tmp_path / "s")
    key_id, secret = _tenant_key(cluster, tenant_id)
    (folder / "secret.docx").write_bytes(b"payroll")
    mine = cluster.api(1, secret)
    _week_long_session(mine, tenant_id)  # the key is in replica 1's cache now

    _revoke(cluster, key_id)
    minted, refusals = [], set()
    deadline = time.monotonic() + CONTRACT_S
    while time.monotonic() < deadline:
        try:
            minted.append(_week_long_session(mine, tenant_id).session.id)
        except grpc.RpcError as error:
            refusals.add(error.code())  # type: ignore[attr-defined]

    admin = cluster.api(0)
    still_open = admin.call(admin.sessions.ListSessions, session_pb.ListSessionsRequest(
        tenant_id=tenant_id, created_by_key=key_id, state=session_pb.SESSION_STATE_OPEN)).sessions
    assert (minted, [s.id for s in still_open]) == ([], []), cluster.log()
    assert refusals == {grpc.StatusCode.UNAUTHENTICATED}
