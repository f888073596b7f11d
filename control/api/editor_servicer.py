"""The public EditorService."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from google.protobuf import empty_pb2

from control.api import convert
from control.api.auth import current_principal
from control.api.errors import grpc_errors
from control.api.protos import editor_grpc, editor_pb
from control.services import editor_diagnosis, editors
from control.services.context import ServiceContext
from shared.errors import InvalidArgument

Ctx: TypeAlias = grpc.aio.ServicerContext
POLICIES = {
    editor_pb.PROOF_POLICY_UNSPECIFIED: "if-advertised",
    editor_pb.PROOF_POLICY_IF_ADVERTISED: "if-advertised",
    editor_pb.PROOF_POLICY_REQUIRED: "required",
    editor_pb.PROOF_POLICY_OFF: "off",
}
SEVERITIES = {"ok": editor_pb.FINDING_SEVERITY_OK, "warn": editor_pb.FINDING_SEVERITY_WARN,
              "fail": editor_pb.FINDING_SEVERITY_FAIL}


class EditorServicer(editor_grpc.EditorServiceServicer):
    def __init__(self, ctx: ServiceContext, registry: editors.EditorRegistry) -> None:
        self._ctx = ctx
        self._registry = registry

    def _message(self, row: editors.Editor) -> editor_pb.Editor:
        shown = editors.shows_internal_addresses(current_principal(), row)
        return convert.editor(row, self._registry.discovery(row), internal_addresses=shown)

    @grpc_errors
    async def CreateEditor(self, request: editor_pb.CreateEditorRequest, context: Ctx) -> editor_pb.Editor:
        if request.proof_policy not in POLICIES:
            raise InvalidArgument("proof_policy", "PROOF_POLICY_REQUIRED, _IF_ADVERTISED or _OFF")
        row = await editors.create_editor(self._ctx, self._registry, current_principal(), name=request.name,
                                          tenant_id=request.tenant_id, discovery_url=request.discovery_url,
                                          proof_policy=POLICIES[request.proof_policy], kind=request.kind,
                                          app_url=request.app_url, app_public_url=request.app_public_url,
                                          api_key=request.api_key, webhook_secret=request.webhook_secret)
        return self._message(row)

    @grpc_errors
    async def GetEditor(self, request: editor_pb.GetEditorRequest, context: Ctx) -> editor_pb.Editor:
        row = await editors.get_editor(self._ctx, current_principal(), name=request.name,
                                       tenant_id=request.tenant_id)
        return self._message(row)

    @grpc_errors
    async def ListEditors(self, request: editor_pb.ListEditorsRequest, context: Ctx) -> editor_pb.ListEditorsResponse:
        rows = await editors.list_editors(self._ctx, self._registry, current_principal(), tenant_id=request.tenant_id)
        return editor_pb.ListEditorsResponse(editors=[self._message(r) for r in rows])

    @grpc_errors
    async def RefreshEditor(self, request: editor_pb.RefreshEditorRequest, context: Ctx) -> editor_pb.Editor:
        row = await editors.refresh_editor(self._ctx, self._registry, current_principal(), name=request.name,
                                           tenant_id=request.tenant_id)
        return self._message(row)

    @grpc_errors
    async def DeleteEditor(self, request: editor_pb.DeleteEditorRequest, context: Ctx) -> empty_pb2.Empty:
        await editors.delete_editor(self._ctx, current_principal(), name=request.name, tenant_id=request.tenant_id,
                                    force=request.force)
        return empty_pb2.Empty()

    @grpc_errors
    async def DiagnoseEditor(self, request: editor_pb.DiagnoseEditorRequest,
                             context: Ctx) -> editor_pb.DiagnoseEditorResponse:
        found = await editor_diagnosis.diagnose_editor(self._ctx, self._registry, current_principal(),
                                                       name=request.name, tenant_id=request.tenant_id)
        findings = [editor_pb.EditorFinding(check=f.check, severity=SEVERITIES[f.severity], summary=f.summary,
                                            detail=f.detail, fix=f.fix) for f in found.findings]
        return editor_pb.DiagnoseEditorResponse(editor=self._message(found.editor), public_url=found.public_url,
                                                findings=findings, diagnose_time=convert.timestamp(found.time))
