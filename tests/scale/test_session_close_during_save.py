"""A session closed while one of its saves is between BeginWrite and CommitWrite (the edge
publishing the bytes; on S3 one PUT of the whole body), through another control-plane replica:
the save is kept, and a PutRelativeFile does not mint a new token for the closed session's user
(one that would outlive the session, up to its expiry)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc
import httpx
import pytest

from shared.wopi_operation import WopiOperation
from tests.scale.cluster import Cluster
from tests.support.api import new_tenant, open_file, session_pb
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

pytestmark = pytest.mark.postgres


def test_a_save_in_flight_at_close_does_not_mint_a_token_for_the_closed_session(
        cluster: Cluster, tmp_path: Path, http: httpx.Client) -> None:
    api = cluster.api(0)
    tenant_id, folder = new_tenant(api, tmp_path / "storage")
    f = open_file(api, tenant_id, folder, "a.docx")
    edge_key = (cluster.data_dir / "edge.key").read_text().strip()
    metadata = (("authorization", f"Bearer {edge_key}"),)
    channels = [grpc.insecure_channel(c.grpc_address) for c in cluster.controls]
    stubs = [edge_grpc.EdgeServiceStub(ch) for ch in channels]
    try:
        body = b"copy"
        call = edge_pb.WopiCall(access_token=f.token, file_id=f.file_id,
                                operation=WopiOperation.PUT_RELATIVE_FILE.number, client_address="203.0.113.9")
        begun = stubs[0].BeginWrite(edge_pb.BeginWriteRequest(
            call=call, current=edge_pb.StoredObject(exists=False),
            staged=edge_pb.StagedContent(size=len(body), sha256=hashlib.sha256(body).hexdigest(), fingerprint="fp"),
            target_path="copy.docx", overwrite=False), metadata=metadata, timeout=15)
        (folder / "copy.docx").write_bytes(body)  # the edge's publish step
        # The application (or the operator) closes the session now, through the other replica.
        other = cluster.api(1)
        other.call(other.sessions.CloseSession, session_pb.CloseSessionRequest(id=f.session_id))
        assert http.get(f"{cluster.edge_urls[0]}/wopi/files/{f.file_id}?access_token={f.token}").status_code == 401
        try:
            committed = stubs[1].CommitWrite(edge_pb.CommitWriteRequest(call=call, intent_id=begun.intent_id,
                                                                        fingerprint="fp"),
                                             metadata=metadata, timeout=15)
        except grpc.RpcError as refused:
            raise AssertionError(f"the save was refused, its file lost to the database: {refused}\n{cluster.log()}")
        assert not committed.access_token and not committed.wopi_src, "a token for the closed session's user"
        # The file is the user's work: recorded, and readable by a session that is open.
        reopened = api.call(api.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant_id, storage="docs", path="copy.docx", user_id="u2"))
        for base in cluster.edge_urls:
            got = http.get(f"{base}/wopi/files/{reopened.session.file_id}/contents?access_token={reopened.access_token}")
            assert got.content == body, cluster.log()
    finally:
        for ch in channels:
            ch.close()
