"""gRPC servicers of tenants, storages and sessions: proto in, service call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypeAlias

import grpc
from google.protobuf import empty_pb2
from grpc_status import rpc_status

from control.api import convert, session_request
from control.api.auth import current_principal
from control.api.errors import grpc_errors, to_status
from control.api.protos import (
    key_grpc,
    key_pb,
    session_grpc,
    session_pb,
    storage_grpc,
    storage_pb,
    tenant_grpc,
    tenant_pb,
)
from control.services import events, keys, sessions, storages, tenants
from control.services.context import ServiceContext
from control.services.editors import EditorRegistry
from control.services.keys import Authenticator
from shared.errors import WopiProxyError

Ctx: TypeAlias = grpc.aio.ServicerContext


class TenantServicer(tenant_grpc.TenantServiceServicer):
    def __init__(self, ctx: ServiceContext, authenticator: Authenticator | None = None) -> None:
        self._ctx = ctx
        self._authenticator = authenticator

    @grpc_errors
    async def CreateTenant(self, request: tenant_pb.CreateTenantRequest, context: Ctx) -> tenant_pb.Tenant:
        row = await tenants.create_tenant(self._ctx, current_principal(), tenant_id=request.id, name=request.name,
                                          settings=convert.tenant_settings(request.settings))
        return convert.tenant(row)

    @grpc_errors
    async def UpdateTenant(self, request: tenant_pb.UpdateTenantRequest, context: Ctx) -> tenant_pb.Tenant:
        paths = list(request.update_mask.paths) or _set_fields(request.tenant)
        row = await tenants.update_tenant(
            self._ctx, current_principal(), tenant_id=request.tenant.id, paths=paths,
            name=request.tenant.name, enabled=request.tenant.enabled,
            settings=convert.tenant_settings(request.tenant.settings, set(paths)),
        )
        if self._authenticator is not None:
            self._authenticator.forget()  # a disabled tenant's keys stop working at once
        return convert.tenant(row)

    @grpc_errors
    async def DeleteTenant(self, request: tenant_pb.DeleteTenantRequest, context: Ctx) -> empty_pb2.Empty:
        await tenants.delete_tenant(self._ctx, current_principal(), tenant_id=request.id, force=request.force)
        if self._authenticator is not None:
            self._authenticator.forget()  # the tenant's keys are gone: stop honouring cached ones at once
        return empty_pb2.Empty()

    @grpc_errors
    async def GetTenant(self, request: tenant_pb.GetTenantRequest, context: Ctx) -> tenant_pb.Tenant:
        return convert.tenant(await tenants.get_tenant(self._ctx, current_principal(), tenant_id=request.id))

    @grpc_errors
    async def ListTenants(self, request: tenant_pb.ListTenantsRequest, context: Ctx) -> tenant_pb.ListTenantsResponse:
        rows, token = await tenants.list_tenants(self._ctx, current_principal(), page_size=request.page_size,
                                                 page_token=request.page_token)
        return tenant_pb.ListTenantsResponse(tenants=[convert.tenant(r) for r in rows], next_page_token=token)


def _set_fields(tenant: tenant_pb.Tenant) -> list[str]:
    """Without an update_mask, every field that is set is an update ("enabled" only when
    present in the mask, since false is its default)."""
    paths = [f"settings.{field.name}" for field, _ in tenant.settings.ListFields()]
    if tenant.name:
        paths.append("name")
    return paths


class KeyServicer(key_grpc.KeyServiceServicer):
    def __init__(self, ctx: ServiceContext, authenticator: Authenticator) -> None:
        self._ctx = ctx
        self._authenticator = authenticator

    @grpc_errors
    async def CreateApiKey(self, request: key_pb.CreateApiKeyRequest, context: Ctx) -> key_pb.CreateApiKeyResponse:
        row, secret = await keys.create_key(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                            description=request.description,
                                            role=convert.ROLE_NAMES.get(request.role, "?" if request.role else ""))
        return key_pb.CreateApiKeyResponse(key_id=row.id, api_key=secret, key=convert.api_key(row))

    @grpc_errors
    async def ListApiKeys(self, request: key_pb.ListApiKeysRequest, context: Ctx) -> key_pb.ListApiKeysResponse:
        rows, token = await keys.list_keys(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                           page_size=request.page_size, page_token=request.page_token)
        return key_pb.ListApiKeysResponse(keys=[convert.api_key(r) for r in rows], next_page_token=token)

    @grpc_errors
    async def RevokeApiKey(self, request: key_pb.RevokeApiKeyRequest, context: Ctx) -> key_pb.ApiKey:
        row = await keys.revoke_key(self._ctx, current_principal(), self._authenticator, key_id=request.id,
                                    close_sessions=request.close_sessions)
        return convert.api_key(row)


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

    @grpc_errors
    async def UpdateStorage(self, request: storage_pb.UpdateStorageRequest, context: Ctx) -> storage_pb.Storage:
        sent = request.storage
        paths = list(request.update_mask.paths) or _set_storage_fields(sent)
        row = await storages.update_storage(
            self._ctx, current_principal(), tenant_id=sent.tenant_id, name=sent.name, paths=paths,
            protocol=sent.protocol, root=sent.root, options=dict(sent.options), max_file_size=sent.max_file_size,
            version_retention=sent.version_retention,
        )
        return convert.storage(row, storages.storage_options(row))

    @grpc_errors
    async def DeleteStorage(self, request: storage_pb.DeleteStorageRequest, context: Ctx) -> empty_pb2.Empty:
        await storages.delete_storage(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                      name=request.name, force=request.force)
        return empty_pb2.Empty()


def _set_storage_fields(storage: storage_pb.Storage) -> list[str]:
    """Without an update_mask, every updatable field that is set is an update."""
    return [field.name for field, _ in storage.ListFields() if field.name in storages.UPDATE_PATHS]


class SessionServicer(session_grpc.SessionServiceServicer):
    def __init__(self, ctx: ServiceContext, editors: EditorRegistry | None = None) -> None:
        self._ctx = ctx
        self._editors = editors

    @grpc_errors
    async def CreateSession(
        self, request: session_pb.CreateSessionRequest, context: Ctx
    ) -> session_pb.CreateSessionResponse:
        principal = current_principal()
        fields = session_request.normalize(request, principal)
        opened = await sessions.create_session(self._ctx, principal, editors=self._editors, **fields)
        message = convert.session(opened.session)
        return session_pb.CreateSessionResponse(
            session=message, access_token=opened.access_token, access_token_ttl=opened.access_token_ttl,
            session_id=message.id, file_id=message.file_id, wopi_src=message.wopi_src,
            editor_url=opened.editor_url or message.wopi_src, expires_at=message.expire_time,
            editor_action_url=opened.editor_action_url, editor_form=opened.editor_form,
            host_page_url=opened.host_page_url,
        )

    @grpc_errors
    async def GetSession(self, request: session_pb.GetSessionRequest, context: Ctx) -> session_pb.Session:
        session_id = request.id or request.session_id
        return convert.session(await sessions.get_session(self._ctx, current_principal(), session_id=session_id))

    @grpc_errors
    async def ListSessions(
        self, request: session_pb.ListSessionsRequest, context: Ctx
    ) -> session_pb.ListSessionsResponse:
        views, token = await sessions.list_sessions(
            self._ctx, current_principal(), tenant_id=request.tenant_id, page_size=request.page_size,
            page_token=request.page_token, user_id=request.user_id, file_id=request.file_id,
            state=convert.STATE_NAMES.get(request.state, ""), created_by_key=request.created_by_key,
        )
        return session_pb.ListSessionsResponse(sessions=[convert.session(v) for v in views], next_page_token=token)

    @grpc_errors
    async def CloseSession(self, request: session_pb.CloseSessionRequest, context: Ctx) -> session_pb.Session:
        session_id = request.id or request.session_id
        return convert.session(await sessions.close_session(self._ctx, current_principal(), session_id=session_id))

    @grpc_errors
    async def CleanupSessions(
        self, request: session_pb.CleanupSessionsRequest, context: Ctx
    ) -> session_pb.CleanupSessionsResponse:
        views = await sessions.cleanup_sessions(self._ctx, current_principal(), tenant_id=request.tenant_id,
                                                dry_run=request.dry_run)
        return session_pb.CleanupSessionsResponse(sessions=[convert.session(v) for v in views])

    async def WatchSessionEvents(
        self, request: session_pb.WatchSessionEventsRequest, context: Ctx
    ) -> AsyncIterator[session_pb.SessionEvent]:
        stream = events.watch(self._ctx, current_principal(), tenant_id=request.tenant_id, cursor=request.cursor)
        try:
            # aclosing: however this stream ends, the watch ends with it now, not when collected,
            # and gives back its tenant's stream slot (control.services.tenant_limits).
            async with aclosing(stream):
                async for row in stream:
                    assert row.id is not None
                    yield convert.session_event(row, self._ctx.event_cursors.encode(row.id))
        except WopiProxyError as error:
            await context.abort_with_status(rpc_status.to_status(to_status(error)))
