"""Deleting an editor whose proof policy is "required" (or deleting and re-adding it, the natural way
to change it) must not open its sessions' tokens to unsigned use on any edge: a token stolen from
the editor's traffic is useless alone, and stays so. DeleteEditor is refused while the editor's
sessions are open; with force they are closed (control/services/editors.py). Security review F4."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import httpx
import pytest

from tests.scale.cluster import Cluster
from tests.support.api import error_reason, new_tenant, session_pb
from tests.support.http_stub import HttpStub
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc

pytestmark = pytest.mark.postgres

# The WOPI validator's discovery: WopiTest actions and proof keys (tests/fixtures/discovery/README.md).
DISCOVERY = Path(__file__).resolve().parents[1] / "fixtures" / "discovery" / "validator.xml"
WATCH_S = 3.0  # how long the edges are watched after each delete (a change propagates within 1 s)


def test_deleting_a_proof_required_editor_never_opens_its_tokens_to_unsigned_use(
        cluster: Cluster, tmp_path: Path, http: httpx.Client) -> None:
    stub = HttpStub().start()
    try:
        stub.routes["/hosting/discovery"] = (200, "text/xml", DISCOVERY.read_bytes())
        api = cluster.api(0)
        tenant_id, folder = new_tenant(api, tmp_path / "s")
        editor_grpc.EditorServiceStub(api.channel).CreateEditor(editor_pb.CreateEditorRequest(
            name="signing", tenant_id=tenant_id, discovery_url=f"{stub.url}/hosting/discovery",
            proof_policy=editor_pb.PROOF_POLICY_REQUIRED), metadata=api.metadata, timeout=30)
        (folder / "board.wopitest").write_bytes(b"minutes")
        reply = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="board.wopitest", user_id="u1", editor="signing",
            permission=session_pb.PERMISSION_EDIT))
        urls = [f"{base}/wopi/files/{reply.session.file_id}/contents?access_token={reply.access_token}"
                for base in cluster.edge_urls]
        before = [http.get(u).status_code for u in urls]
        assert before == [500, 500], before  # unsigned: refused while the editor exists (a failed proof)

        other = cluster.api(1)
        editors = editor_grpc.EditorServiceStub(other.channel)
        delete = editor_pb.DeleteEditorRequest(name="signing", tenant_id=tenant_id)
        with pytest.raises(grpc.RpcError) as refused:
            editors.DeleteEditor(delete, metadata=other.metadata, timeout=30)
        assert (refused.value.code(), error_reason(refused.value)) == (
            grpc.StatusCode.FAILED_PRECONDITION, "SESSIONS_OPEN"), cluster.log()
        seen_unforced = _watch(http, urls)

        delete.force = True
        editors.DeleteEditor(delete, metadata=other.metadata, timeout=30)
        seen_forced = _watch(http, urls)
    finally:
        stub.stop()

    assert 200 not in seen_unforced | seen_forced, (seen_unforced, seen_forced)
    assert [http.get(u).status_code for u in urls] == [401, 401]  # the session was closed by the forced delete


def _watch(http: httpx.Client, urls: list[str]) -> set[int]:
    """Every status the unsigned request got on any edge during WATCH_S."""
    seen: set[int] = set()
    deadline = time.monotonic() + WATCH_S
    while time.monotonic() < deadline:
        seen.update(http.get(u).status_code for u in urls)
        time.sleep(0.05)
    return seen
