"""The public FileService: files, their kept versions, restore."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from control.api import convert
from control.api.auth import current_principal
from control.api.errors import grpc_errors
from control.api.protos import file_grpc, file_pb
from control.services import files
from control.services.context import ServiceContext

Ctx: TypeAlias = grpc.aio.ServicerContext


class FileServicer(file_grpc.FileServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def GetFile(self, request: file_pb.GetFileRequest, context: Ctx) -> file_pb.File:
        view = await files.get_file(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                    file_id=request.file_id)
        return convert.file(view)

    @grpc_errors
    async def ListFileVersions(
        self, request: file_pb.ListFileVersionsRequest, context: Ctx
    ) -> file_pb.ListFileVersionsResponse:
        rows, token = await files.list_versions(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                                file_id=request.file_id, page_size=request.page_size,
                                                page_token=request.page_token)
        return file_pb.ListFileVersionsResponse(versions=[convert.file_version(r) for r in rows],
                                                next_page_token=token)

    @grpc_errors
    async def RestoreFileVersion(self, request: file_pb.RestoreFileVersionRequest, context: Ctx) -> file_pb.File:
        view = await files.restore_version(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                           file_id=request.file_id, version=request.version)
        return convert.file(view)
