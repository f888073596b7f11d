"""A real control plane (`wopi-proxy control`, no edge: the tests play the edge and its bridge
worker, calling the internal EdgeService with the edge's key) for the bridge's control-plane tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from shared import signatures
from tests.support.api import error_reason
from tests.support.processes import WopiProxyProcess
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc
from wopiproxy.control.v1 import bridge_service_pb2 as bridge_pb
from wopiproxy.control.v1 import bridge_service_pb2_grpc as bridge_grpc
from wopiproxy.control.v1 import editor_service_pb2 as editor_pb
from wopiproxy.control.v1 import editor_service_pb2_grpc as editor_grpc
from wopiproxy.control.v1 import key_service_pb2 as key_pb
from wopiproxy.control.v1 import key_service_pb2_grpc as key_grpc
from wopiproxy.control.v1 import session_service_pb2 as session_pb
from wopiproxy.control.v1 import session_service_pb2_grpc as session_grpc
from wopiproxy.control.v1 import storage_service_pb2 as storage_pb
from wopiproxy.control.v1 import storage_service_pb2_grpc as storage_grpc
from wopiproxy.control.v1 import tenant_service_pb2 as tenant_pb
from wopiproxy.control.v1 import tenant_service_pb2_grpc as tenant_grpc
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from wopiproxy.internal.v1 import edge_service_pb2_grpc as edge_grpc

SECRET = "pad-webhook-secret-0123456789"
API_KEY = "etherpad-api-key"
# Fast timing for tests (seconds); a test that needs another passes its own flags.
FAST = ("--bridge-save-debounce", "1", "--bridge-save-max-wait", "3", "--bridge-unlock-grace", "1",
        "--bridge-lease", "3", "--bridge-poll-interval", "30", "--bridge-idle-poll-interval", "30")
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class Caller:
    """One key's stubs of every service a bridge test calls."""

    def __init__(self, channel: grpc.Channel, key: str) -> None:
        self.key = key
        self.tenants = tenant_grpc.TenantServiceStub(channel)
        self.keys = key_grpc.KeyServiceStub(channel)
        self.storages = storage_grpc.StorageServiceStub(channel)
        self.sessions = session_grpc.SessionServiceStub(channel)
        self.editors = editor_grpc.EditorServiceStub(channel)
        self.bridge = bridge_grpc.BridgeServiceStub(channel)
        self.audit = audit_grpc.AuditServiceStub(channel)
        self.edge = edge_grpc.EdgeServiceStub(channel)

    def __call__(self, method: Any, request: Any) -> Any:
        return method(request, metadata=(("authorization", f"Bearer {self.key}"),), timeout=20)


@dataclass
class Tenant:
    id: str
    folder: Path
    editor: str = "pad"


@dataclass
class Rig:
    control: WopiProxyProcess
    channel: grpc.Channel
    admin: Caller
    edge: Caller
    workdir: Path
    tenants: list[Tenant] = field(default_factory=list)

    def log(self) -> str:
        return self.control.log()[-6000:]

    def new_tenant(self, *, kind: str = "etherpad", secret: str = SECRET, editor: str = "pad") -> Tenant:
        tenant_id = "t-" + secrets.token_hex(4)
        self.admin(self.admin.tenants.CreateTenant, tenant_pb.CreateTenantRequest(id=tenant_id, name=tenant_id))
        folder = self.workdir / "files" / tenant_id
        folder.mkdir(parents=True)
        self.admin(self.admin.storages.CreateStorage, storage_pb.CreateStorageRequest(
            tenant_id=tenant_id, name="docs", protocol="file", root=str(folder)))
        self.admin(self.admin.editors.CreateEditor, editor_pb.CreateEditorRequest(
            name=editor, tenant_id=tenant_id, kind=kind, app_url="http://127.0.0.1:9/", api_key=API_KEY,
            webhook_secret=secret))
        tenant = Tenant(id=tenant_id, folder=folder, editor=editor)
        self.tenants.append(tenant)
        return tenant

    def tenant_key(self, tenant: Tenant) -> Caller:
        reply = self.admin(self.admin.keys.CreateApiKey, key_pb.CreateApiKeyRequest(tenant_id=tenant.id))
        return Caller(self.channel, reply.api_key)

    def session(self, tenant: Tenant, path: str = "notes.txt", *, content: bytes | None = b"hello\n",
                user: str = "ann", edit: bool = True, ttl: int = 0) -> Any:
        local = tenant.folder / path
        if content is not None and not local.exists():
            local.write_bytes(content)
        return self.admin(self.admin.sessions.CreateSession, session_pb.CreateSessionRequest(
            tenant_id=tenant.id, storage="docs", path=path, user_id=user, user_name=user.title(),
            permission=session_pb.PERMISSION_EDIT if edit else session_pb.PERMISSION_VIEW, editor=tenant.editor,
            ttl_seconds=ttl))

    def open(self, token: str) -> edge_pb.OpenBridgedResponse:
        return self.edge(self.edge.edge.OpenBridged, edge_pb.OpenBridgedRequest(access_token=token,
                                                                                client_address="198.51.100.7"))

    def claim(self, worker: str = "w1", max_items: int = 8, *, first_claim: bool = False
              ) -> list[edge_pb.BridgeWorkItem]:
        reply = self.edge(self.edge.edge.ClaimBridgeWork, edge_pb.ClaimBridgeWorkRequest(
            worker_id=worker, max_items=max_items, first_claim=first_claim))
        return list(reply.items)

    def claim_until(self, want: Callable[[edge_pb.BridgeWorkItem], bool], *, timeout: float = 20,
                    worker: str = "w1", first_claim: bool = False) -> edge_pb.BridgeWorkItem:
        """Claims until an item `want`s; every other item is reported back at once (no sleeps as
        synchronisation: a deadline, and the control plane's own due times)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.claim(worker, first_claim=first_claim):
                if want(item):
                    return item
                self.release(item)
            time.sleep(0.1)
        raise AssertionError(f"no wanted work item within {timeout}s\n{self.log()}")

    def release(self, item: edge_pb.BridgeWorkItem) -> None:
        """Reports an unwanted item as a worker that found nothing to do would."""
        doc = item.document
        outcome = {edge_pb.BRIDGE_WORK_KIND_POLL: edge_pb.BRIDGE_WORK_OUTCOME_POLLED,
                   edge_pb.BRIDGE_WORK_KIND_SAVE: edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED}.get(item.kind)
        if outcome is None:
            return  # LOAD/CLOSE are left to lapse
        present = [p.app_author_id for p in doc.participants if p.present and p.app_author_id]
        self.complete(item, outcome, app_rev=doc.seen_rev if outcome != edge_pb.BRIDGE_WORK_OUTCOME_POLLED
                      else doc.saved_rev, present_authors=present)

    def complete(self, item: Any, outcome: int, **fields: Any) -> edge_pb.CompleteBridgeWorkResponse:
        document_id = item.document.document_id
        return self.edge(self.edge.edge.CompleteBridgeWork, edge_pb.CompleteBridgeWorkRequest(
            document_id=document_id, lease_token=item.lease_token, outcome=outcome, **fields))

    def event(self, source: int, body: dict[str, Any] | bytes, *, secret: str = SECRET,
              signature: str | None = None) -> edge_pb.NoteBridgeEventResponse:
        if isinstance(body, dict) and source == edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK:
            body = {"sentAt": int(time.time() * 1000), **body}  # as apps/hocuspocus/server.mjs sends it
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if signature is None:
            signature = (f"sha256={hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}"
                         if source == edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK
                         else signatures.sign(secret.encode(), raw))
        return self.edge(self.edge.edge.NoteBridgeEvent, edge_pb.NoteBridgeEventRequest(
            source=source, body=raw, signature=signature, client_address="127.0.0.1"))

    def document(self, document_id: str) -> bridge_pb.BridgedDocument:
        return self.admin(self.admin.bridge.GetBridgedDocument, bridge_pb.GetBridgedDocumentRequest(id=document_id))

    def audit_operations(self, tenant: Tenant) -> list[str]:
        reply = self.admin(self.admin.audit.ListAuditEvents, audit_pb.ListAuditEventsRequest(
            tenant_id=tenant.id, page_size=1000))
        return [e.operation for e in reply.events]


def refusal(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error_reason(error)  # type: ignore[attr-defined]
    raise AssertionError("the call was not refused")


def start_rig(tmp_path: Path, database: str, postgres_url: Callable[[], str], *flags: str) -> Iterator[Rig]:
    extra = ["--database-url", postgres_url()] if database == "postgresql" else []
    control = WopiProxyProcess(args=["control", "--grpc-port", "0", "--data-dir", str(tmp_path / "data"),
                                     "--public-url", "http://127.0.0.1:9999", *extra, *(flags or FAST)],
                               workdir=tmp_path).start()
    channel = grpc.insecure_channel(control.grpc_address)
    admin = Caller(channel, (tmp_path / "data" / "admin.key").read_text().strip())
    edge = Caller(channel, (tmp_path / "data" / "edge.key").read_text().strip())
    try:
        yield Rig(control=control, channel=channel, admin=admin, edge=edge, workdir=tmp_path)
    finally:
        channel.close()
        control.stop()


def pad_event(doc: Any, event: str, **fields: Any) -> dict[str, Any]:
    """The plugin's event body; Etherpad names group pads "g.<group>$<name>"."""
    return {"event": event, "pad": f"g.abcdef${doc.app_doc_id}", "ts": int(time.time() * 1000), **fields}
