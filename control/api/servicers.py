"""gRPC servicers of tenants, storages and sessions: proto in, service call, proto out."""

from __future__ import annotations

import grpc

from control.api import convert
from control.api.auth import current_principal
from control.api.errors import grpc_errors
from control.api.protos import session_grpc, session_pb, storage_grpc, storage_pb, tenant_grpc, tenant_pb
from control.services import sessions, storages, tenants
from control.services.context import ServiceContext
from shared.errors import InvalidArgument

Ctx = grpc.aio.ServicerContext


class TenantServicer(tenant_grpc.TenantServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def CreateTenant(self, request: tenant_pb.CreateTenantRequest, context: Ctx) -> tenant_pb.Tenant:
        row = await tenants.create_tenant(self._ctx, current_principal(), tenant_id=request.id, name=request.name)
        return convert.tenant(row)

    @grpc_errors
    async def GetTenant(self, request: tenant_pb.GetTenantRequest, context: Ctx) -> tenant_pb.Tenant:
        return convert.tenant(await tenants.get_tenant(self._ctx, current_principal(), tenant_id=request.id))

    @grpc_errors
    async def ListTenants(self, request: tenant_pb.ListTenantsRequest, context: Ctx) -> tenant_pb.ListTenantsResponse:
        rows, token = await tenants.list_tenants(self._ctx, current_principal(), page_size=request.page_size,
                                                 page_token=request.page_token)
        return tenant_pb.ListTenantsResponse(tenants=[convert.tenant(r) for r in rows], next_page_token=token)


class StorageServicer(storage_grpc.StorageServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def CreateStorage(self, request: storage_pb.CreateStorageRequest, context: Ctx) -> storage_pb.Storage:
        row = await storages.create_storage(
            self._ctx, current_principal(), tenant_id=request.tenant_id, name=request.name,
            protocol=request.protocol, root=request.root, options=dict(request.options),
            max_file_size=request.max_file_size, version_retention=request.version_retention,
        )
        return convert.storage(row, storages.storage_options(row))

    @grpc_errors
    async def GetStorage(self, request: storage_pb.GetStorageRequest, context: Ctx) -> storage_pb.Storage:
        row = await storages.get_storage(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                         name=request.name)
        return convert.storage(row, storages.storage_options(row))

    @grpc_errors
    async def ListStorages(
        self, request: storage_pb.ListStoragesRequest, context: Ctx
    ) -> storage_pb.ListStoragesResponse:
        rows, token = await storages.list_storages(
            self._ctx, current_principal(), tenant_id=request.tenant_id, page_size=request.page_size,
            page_token=request.page_token,
        )
        return storage_pb.ListStoragesResponse(
            storages=[convert.storage(r, storages.storage_options(r)) for r in rows], next_page_token=token
        )


class SessionServicer(session_grpc.SessionServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def CreateSession(
        self, request: session_pb.CreateSessionRequest, context: Ctx
    ) -> session_pb.CreateSessionResponse:
        if request.permission not in convert.PERMISSION_NAMES:
            raise InvalidArgument("permission", "PERMISSION_VIEW or PERMISSION_EDIT")
        opened = await sessions.create_session(
            self._ctx, current_principal(), tenant_id=request.tenant_id, storage_name=request.storage,
            path=request.path, user_id=request.user_id, user_name=request.user_name,
            permission=convert.PERMISSION_NAMES[request.permission], ttl_seconds=request.ttl_seconds,
        )
        return session_pb.CreateSessionResponse(
            session=convert.session(opened.session), access_token=opened.access_token,
            access_token_ttl=opened.access_token_ttl,
        )

    @grpc_errors
    async def GetSession(self, request: session_pb.GetSessionRequest, context: Ctx) -> session_pb.Session:
        return convert.session(await sessions.get_session(self._ctx, current_principal(), session_id=request.id))

    @grpc_errors
    async def ListSessions(
        self, request: session_pb.ListSessionsRequest, context: Ctx
    ) -> session_pb.ListSessionsResponse:
        views, token = await sessions.list_sessions(
            self._ctx, current_principal(), tenant_id=request.tenant_id, page_size=request.page_size,
            page_token=request.page_token,
        )
        return session_pb.ListSessionsResponse(sessions=[convert.session(v) for v in views], next_page_token=token)

    @grpc_errors
    async def CloseSession(self, request: session_pb.CloseSessionRequest, context: Ctx) -> session_pb.Session:
        return convert.session(await sessions.close_session(self._ctx, current_principal(), session_id=request.id))
