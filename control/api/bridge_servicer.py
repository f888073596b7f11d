"""The public BridgeService: bridged documents as operators and tenants see and steer them."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from control.api.protos import bridge_grpc, bridge_pb
from control.services.context import ServiceContext

Ctx: TypeAlias = grpc.aio.ServicerContext


class BridgeServicer(bridge_grpc.BridgeServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def ListBridgedDocuments(self, request: bridge_pb.ListBridgedDocumentsRequest,
                                   context: Ctx) -> bridge_pb.ListBridgedDocumentsResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the bridge is not implemented yet")
        raise AssertionError("unreachable")

    async def GetBridgedDocument(self, request: bridge_pb.GetBridgedDocumentRequest,
                                 context: Ctx) -> bridge_pb.BridgedDocument:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the bridge is not implemented yet")
        raise AssertionError("unreachable")

    async def SaveBridgedDocumentNow(self, request: bridge_pb.SaveBridgedDocumentNowRequest,
                                     context: Ctx) -> bridge_pb.BridgedDocument:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the bridge is not implemented yet")
        raise AssertionError("unreachable")

    async def CloseBridgedDocument(self, request: bridge_pb.CloseBridgedDocumentRequest,
                                   context: Ctx) -> bridge_pb.BridgedDocument:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the bridge is not implemented yet")
        raise AssertionError("unreachable")
