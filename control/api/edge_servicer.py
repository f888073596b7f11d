"""The internal EdgeService: only edge keys (role "edge", given to the edges) may call it."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from control.api.auth import current_principal
from control.api.errors import grpc_errors
from control.api.protos import edge_grpc, edge_pb
from control.services import sessions, wopi_access, wopi_changes
from control.services.editors import EditorRegistry, ProofHeaders
from control.services.access import require_edge
from control.services.context import ServiceContext

Ctx: TypeAlias = grpc.aio.ServicerContext


def _caller(request: object) -> wopi_access.Caller:
    """Every EdgeService request carries the editor's token, file id and audit context."""
    require_edge(current_principal())
    return wopi_access.Caller(
        access_token=request.access_token, file_id=request.file_id,  # type: ignore[attr-defined]
        client_address=request.client_address, correlation_id=request.correlation_id,  # type: ignore[attr-defined]
        editor=getattr(request, "editor", ""),
    )


class EdgeServicer(edge_grpc.EdgeServiceServicer):
    def __init__(self, ctx: ServiceContext, editors: EditorRegistry | None = None) -> None:
        self._ctx = ctx
        self._editors = editors

    @grpc_errors
    async def AuthorizeWopiRequest(
        self, request: edge_pb.AuthorizeWopiRequestRequest, context: Ctx
    ) -> edge_pb.AuthorizeWopiRequestResponse:
        proof = ProofHeaders(proof=request.proof, proof_old=request.proof_old, timestamp=request.proof_timestamp,
                             url=request.url)
        grant = await wopi_access.authorize(
            self._ctx, _caller(request), operation=request.operation, lock_id=request.lock_id,
            old_lock_id=request.old_lock_id, user_info=request.user_info, proof=proof, editors=self._editors,
        )
        session, storage, file = grant.session, grant.storage, grant.file
        return edge_pb.AuthorizeWopiRequestResponse(
            tenant_id=session.tenant_id, session_id=session.id, user_id=session.user_id,
            user_name=session.user_name, can_write=grant.can_write, path=file.path, version=file.version,
            owner_id=session.tenant_id,
            storage=edge_pb.StorageAccess(protocol=storage.protocol, root=storage.root,
                                          options=grant.storage_options, max_file_size=grant.max_file_size,
                                          version_retention=storage.version_retention,
                                          egress_restricted=not storage.operator_owned),
            access_token_expiry=session.expire_time, lock_id=grant.lock_id, sha256=file.sha256,
            fingerprint=file.fingerprint, user_info=grant.user_info,
            post_message_origin=grant.post_message_origin, editor_name=grant.editor_name,
        )

    @grpc_errors
    async def RecordWrite(self, request: edge_pb.RecordWriteRequest, context: Ctx) -> edge_pb.RecordWriteResponse:
        record = wopi_changes.WriteRecord(
            size=request.size, sha256=request.sha256, fingerprint=request.fingerprint,
            expected_lock_id=request.expected_lock_id, kept_version=request.kept_version,
            kept_size=request.kept_size, editors=request.editors, save_flags=request.save_flags,
        )
        recorded = await wopi_changes.record_write(self._ctx, _caller(request), record)
        return edge_pb.RecordWriteResponse(version=recorded.version, expired_versions=recorded.expired_versions)

    @grpc_errors
    async def RecordConflictCopy(
        self, request: edge_pb.RecordConflictCopyRequest, context: Ctx
    ) -> edge_pb.RecordConflictCopyResponse:
        await wopi_changes.record_conflict_copy(self._ctx, _caller(request), copy_path=request.copy_path,
                                                size=request.size, reason=request.reason)
        return edge_pb.RecordConflictCopyResponse()

    @grpc_errors
    async def CreateRelativeFile(
        self, request: edge_pb.CreateRelativeFileRequest, context: Ctx
    ) -> edge_pb.CreateRelativeFileResponse:
        created = await wopi_changes.create_relative_file(
            self._ctx, _caller(request), target_path=request.target_path, overwrite=request.overwrite,
            target_exists=request.target_exists, size=request.size, sha256=request.sha256,
            target_size=request.target_size, editors=self._editors,
        )
        return edge_pb.CreateRelativeFileResponse(
            file_id=created.file_id, wopi_src=created.wopi_src, access_token=created.access_token,
            version=created.previous_version, expired_versions=created.expired_versions,
            host_view_url=created.host_view_url, host_edit_url=created.host_edit_url,
        )

    @grpc_errors
    async def RecordRename(self, request: edge_pb.RecordRenameRequest, context: Ctx) -> edge_pb.RecordRenameResponse:
        await wopi_changes.record_rename(self._ctx, _caller(request), lock_id=request.lock_id,
                                         new_path=request.new_path)
        return edge_pb.RecordRenameResponse()

    @grpc_errors
    async def RecordDelete(self, request: edge_pb.RecordDeleteRequest, context: Ctx) -> edge_pb.RecordDeleteResponse:
        expired = await wopi_changes.record_delete(self._ctx, _caller(request), kept_version=request.kept_version,
                                                   kept_size=request.kept_size)
        return edge_pb.RecordDeleteResponse(expired_versions=expired)

    @grpc_errors
    async def RedeemLaunchCode(
        self, request: edge_pb.RedeemLaunchCodeRequest, context: Ctx
    ) -> edge_pb.RedeemLaunchCodeResponse:
        require_edge(current_principal())
        code, session, tenant = await sessions.redeem_launch_code(
            self._ctx, launch_code=request.launch_code, client_address=request.client_address)
        return edge_pb.RedeemLaunchCodeResponse(
            action_url=code.action_url, access_token=code.access_token, access_token_ttl=session.expire_time,
            post_message_origin=tenant.post_message_origin, file_name=session.path.rsplit("/", 1)[-1],
            favicon_url=code.favicon_url,
        )

    @grpc_errors
    async def ReportEdgeRefusals(
        self, request: edge_pb.ReportEdgeRefusalsRequest, context: Ctx
    ) -> edge_pb.ReportEdgeRefusalsResponse:
        require_edge(current_principal())
        counts = [(c.client_address, c.rate_limited, c.missing_token) for c in request.counts]
        await wopi_access.count_edge_refusals(self._ctx, counts)
        return edge_pb.ReportEdgeRefusalsResponse()
