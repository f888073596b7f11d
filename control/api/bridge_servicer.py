"""The public BridgeService: bridged documents as operators and tenants see and steer them."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from control.api import bridge_convert
from control.api.auth import current_principal
from control.api.errors import grpc_errors
from control.api.protos import bridge_grpc, bridge_pb
from control.services import bridge_admin
from control.services.context import ServiceContext

Ctx: TypeAlias = grpc.aio.ServicerContext


class BridgeServicer(bridge_grpc.BridgeServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def ListBridgedDocuments(self, request: bridge_pb.ListBridgedDocumentsRequest,
                                   context: Ctx) -> bridge_pb.ListBridgedDocumentsResponse:
        views, token = await bridge_admin.list_documents(
            self._ctx, current_principal(), tenant_id=request.tenant_id, state=request.state,
            page_size=request.page_size, page_token=request.page_token)
        return bridge_pb.ListBridgedDocumentsResponse(documents=[bridge_convert.bridged_document(v) for v in views],
                                                      next_page_token=token)

    @grpc_errors
    async def GetBridgedDocument(self, request: bridge_pb.GetBridgedDocumentRequest,
                                 context: Ctx) -> bridge_pb.BridgedDocument:
        view = await bridge_admin.get_document(self._ctx, current_principal(), document_id=request.id)
        return bridge_convert.bridged_document(view)

    @grpc_errors
    async def SaveBridgedDocumentNow(self, request: bridge_pb.SaveBridgedDocumentNowRequest,
                                     context: Ctx) -> bridge_pb.BridgedDocument:
        view = await bridge_admin.save_now(self._ctx, current_principal(), document_id=request.id)
        return bridge_convert.bridged_document(view)

    @grpc_errors
    async def CloseBridgedDocument(self, request: bridge_pb.CloseBridgedDocumentRequest,
                                   context: Ctx) -> bridge_pb.BridgedDocument:
        view = await bridge_admin.close_document(self._ctx, current_principal(), document_id=request.id)
        return bridge_convert.bridged_document(view)
