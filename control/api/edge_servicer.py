"""The internal EdgeService: only edge keys (role "edge", given to the edges) may call it."""

from __future__ import annotations

import asyncio
from typing import TypeAlias

import grpc

from control.api.auth import current_principal
from control.api.errors import grpc_errors, item_status
from control.api.protos import edge_grpc, edge_pb
from control.api import bridge_convert
from control.services import bridge_events, bridge_open, bridge_work, sessions, wopi_access, wopi_changes
from control.services.access import require_edge
from control.services.context import ServiceContext
from control.services.editors import EditorRegistry, ProofHeaders
from shared.errors import InvalidArgument
from shared.wopi_operation import MAX_GRANTS_PER_CALL, WopiOperation

Ctx: TypeAlias = grpc.aio.ServicerContext


def _result(outcome: edge_pb.AuthorizeWopiRequestResponse | BaseException) -> edge_pb.AuthorizeWopiResult:
    """One item's answer: its grant, or its error as AuthorizeWopiRequest would have returned it."""
    if isinstance(outcome, edge_pb.AuthorizeWopiRequestResponse):
        return edge_pb.AuthorizeWopiResult(grant=outcome)
    if isinstance(outcome, asyncio.CancelledError):
        raise outcome
    return edge_pb.AuthorizeWopiResult(error=item_status(outcome, "AuthorizeWopiRequests"))


def _operation(call: edge_pb.WopiCall) -> WopiOperation:
    try:
        return WopiOperation.from_number(call.operation)
    except ValueError:
        raise InvalidArgument("call.operation", "not a WOPI operation") from None


def _caller(call: edge_pb.WopiCall) -> wopi_access.Caller:
    """Every EdgeService request embeds the editor's request (WopiCall)."""
    require_edge(current_principal())
    return wopi_access.Caller(access_token=call.access_token, file_id=call.file_id,
                              client_address=call.client_address, correlation_id=call.correlation_id,
                              editor=call.editor)


def _write_request(request: edge_pb.BeginWriteRequest) -> wopi_changes.WriteRequest:
    call, current, staged = request.call, request.current, request.staged
    return wopi_changes.WriteRequest(
        operation=_operation(call), lock_id=call.lock_id,
        editor_timestamp=call.editor_timestamp if call.HasField("editor_timestamp") else None,
        timestamp_editor=call.timestamp_editor,
        current=wopi_changes.Stored(exists=current.exists, size=current.size, modified=current.modified,
                                    fingerprint=current.fingerprint),
        staged=wopi_changes.Staged(size=staged.size, sha256=staged.sha256, fingerprint=staged.fingerprint,
                                   staged_path=staged.staged_path),
        target_path=request.target_path, overwrite=request.overwrite, editors=request.editors[:1000],
        save_flags=request.save_flags[:200],
    )


class EdgeServicer(edge_grpc.EdgeServiceServicer):
    def __init__(self, ctx: ServiceContext, editors: EditorRegistry | None = None) -> None:
        self._ctx = ctx
        self._editors = editors

    @grpc_errors
    async def AuthorizeWopiRequest(
        self, request: edge_pb.AuthorizeWopiRequestRequest, context: Ctx
    ) -> edge_pb.AuthorizeWopiRequestResponse:
        return await self._authorize(request)

    @grpc_errors
    async def AuthorizeWopiRequests(
        self, request: edge_pb.AuthorizeWopiRequestsRequest, context: Ctx
    ) -> edge_pb.AuthorizeWopiRequestsResponse:
        require_edge(current_principal())
        if not 1 <= len(request.requests) <= MAX_GRANTS_PER_CALL:
            raise InvalidArgument("requests", f"between 1 and {MAX_GRANTS_PER_CALL} requests")
        # Concurrently, as separate calls would be: the decision writer commits them together.
        outcomes = await asyncio.gather(*(self._authorize(item) for item in request.requests),
                                        return_exceptions=True)
        return edge_pb.AuthorizeWopiRequestsResponse(results=[_result(outcome) for outcome in outcomes])

    async def _authorize(self, request: edge_pb.AuthorizeWopiRequestRequest) -> edge_pb.AuthorizeWopiRequestResponse:
        call = request.call
        proof = ProofHeaders(proof=call.proof, proof_old=call.proof_old, timestamp=call.proof_timestamp, url=call.url)
        grant = await wopi_access.authorize(
            self._ctx, _caller(call), operation=_operation(call), lock_id=call.lock_id,
            old_lock_id=call.old_lock_id, user_info=request.user_info, proof=proof, editors=self._editors,
        )
        session, storage, file = grant.session, grant.storage, grant.file
        return edge_pb.AuthorizeWopiRequestResponse(
            tenant_id=session.tenant_id, session_id=session.id, user_id=session.user_id,
            user_name=session.user_name, can_write=grant.can_write, path=file.path, version=file.version,
            owner_id=session.tenant_id,
            storage=edge_pb.StorageAccess(protocol=storage.protocol, root=grant.storage_root or storage.root,
                                          options=grant.storage_options, max_file_size=grant.max_file_size,
                                          version_retention=storage.version_retention,
                                          egress_restricted=not storage.operator_owned, storage_id=storage.id or 0),
            access_token_expiry=session.expire_time, lock_id=grant.lock_id, sha256=file.sha256,
            fingerprint=file.fingerprint, user_info=grant.user_info,
            post_message_origin=grant.post_message_origin, editor_name=grant.editor_name,
        )

    @grpc_errors
    async def BeginWrite(self, request: edge_pb.BeginWriteRequest, context: Ctx) -> edge_pb.BeginWriteResponse:
        begun = await wopi_changes.begin(self._ctx, _caller(request.call), _write_request(request))
        return edge_pb.BeginWriteResponse(
            intent_id=begun.intent_id, step=edge_pb.WRITE_STEP_DONE if begun.done else edge_pb.WRITE_STEP_PUBLISH,
            publish_within_ms=begun.publish_within_ms, keep_version=begun.keep_version, file_id=begun.file_id,
            version=begun.version)

    @grpc_errors
    async def CommitWrite(self, request: edge_pb.CommitWriteRequest, context: Ctx) -> edge_pb.CommitWriteResponse:
        done = await wopi_changes.commit(self._ctx, _caller(request.call), intent_id=request.intent_id,
                                         fingerprint=request.fingerprint[:64], editors=self._editors)
        return edge_pb.CommitWriteResponse(
            version=done.version, expired_versions=done.expired_versions, wopi_src=done.wopi_src,
            access_token=done.access_token, host_view_url=done.host_view_url, host_edit_url=done.host_edit_url)

    @grpc_errors
    async def AbandonWrite(self, request: edge_pb.AbandonWriteRequest, context: Ctx) -> edge_pb.AbandonWriteResponse:
        abandoned = await wopi_changes.abandon(self._ctx, _caller(request.call), intent_id=request.intent_id,
                                               reason=request.reason)
        return edge_pb.AbandonWriteResponse(abandoned=abandoned)

    @grpc_errors
    async def RecordConflictCopy(
        self, request: edge_pb.RecordConflictCopyRequest, context: Ctx
    ) -> edge_pb.RecordConflictCopyResponse:
        await wopi_changes.record_conflict_copy(self._ctx, _caller(request.call), copy_path=request.copy_path,
                                                size=request.size, reason=request.reason, status=request.status)
        return edge_pb.RecordConflictCopyResponse()

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
            favicon_url=code.favicon_url, editor_kind=await sessions.editor_kind(self._ctx, session),
        )

    @grpc_errors
    async def ReportEdgeRefusals(
        self, request: edge_pb.ReportEdgeRefusalsRequest, context: Ctx
    ) -> edge_pb.ReportEdgeRefusalsResponse:
        require_edge(current_principal())
        counts = [(c.client_address, c.rate_limited, c.missing_token) for c in request.counts]
        await wopi_access.count_edge_refusals(self._ctx, counts)
        return edge_pb.ReportEdgeRefusalsResponse()

    # -- the bridge (docs/BRIDGE.md) -------------------------------------------------------------

    @grpc_errors
    async def OpenBridged(self, request: edge_pb.OpenBridgedRequest, context: Ctx) -> edge_pb.OpenBridgedResponse:
        require_edge(current_principal())
        opened = await bridge_open.open_bridged(self._ctx, access_token=request.access_token,
                                                         client_address=request.client_address[:64])
        return edge_pb.OpenBridgedResponse(
            document=bridge_convert.document_ref(opened.view, self._ctx.bridge), load=opened.load,
            lease_token=opened.lease_token, can_write=opened.can_write, read_only_reason=opened.read_only_reason,
            participant=bridge_convert.participant(opened.participant), valid_until=opened.valid_until)

    @grpc_errors
    async def RegisterBridgeEntry(self, request: edge_pb.RegisterBridgeEntryRequest,
                                  context: Ctx) -> edge_pb.RegisterBridgeEntryResponse:
        require_edge(current_principal())
        code = await bridge_open.register_entry(
            self._ctx, access_token=request.access_token, document_id=request.document_id,
            app_author_id=request.app_author_id, app_session_id=request.app_session_id, app_target=request.app_target)
        return edge_pb.RegisterBridgeEntryResponse(entry_code=code)

    @grpc_errors
    async def NoteBridgeEvent(self, request: edge_pb.NoteBridgeEventRequest,
                              context: Ctx) -> edge_pb.NoteBridgeEventResponse:
        require_edge(current_principal())
        answer = await bridge_events.note_event(self._ctx, source=_SOURCES.get(request.source, ""),
                                                body=request.body, signature=request.signature,
                                                client_address=request.client_address[:64])
        reply = edge_pb.NoteBridgeEventResponse(
            app_session_id=answer.app_session_id, app_target=answer.app_target, user_name=answer.user_name,
            valid_until=answer.valid_until, context_json=answer.context_json)
        if answer.load_document is not None:
            reply.load_document.CopyFrom(bridge_convert.document_ref(answer.load_document, self._ctx.bridge))
        return reply

    @grpc_errors
    async def ClaimBridgeWork(self, request: edge_pb.ClaimBridgeWorkRequest,
                              context: Ctx) -> edge_pb.ClaimBridgeWorkResponse:
        require_edge(current_principal())
        items = await bridge_work.claim(self._ctx, worker_id=request.worker_id, max_items=request.max_items,
                                        first_claim=request.first_claim)
        return edge_pb.ClaimBridgeWorkResponse(items=[
            edge_pb.BridgeWorkItem(kind=_WORK_KINDS[item.kind], document=bridge_convert.document_ref(
                item.view, self._ctx.bridge), lease_token=item.lease_token, lease_expiry=item.lease_expiry)
            for item in items])

    @grpc_errors
    async def CompleteBridgeWork(self, request: edge_pb.CompleteBridgeWorkRequest,
                                 context: Ctx) -> edge_pb.CompleteBridgeWorkResponse:
        require_edge(current_principal())
        outcome = bridge_work.Outcome(
            outcome=_OUTCOMES.get(request.outcome, ""), app_rev=request.app_rev, sha256=request.sha256,
            size=request.size, file_version=request.file_version, editors=list(request.editors),
            detail=request.detail, present_authors=list(request.present_authors), conflict_path=request.conflict_path,
            text_profile=request.text_profile, app_read_only_id=request.app_read_only_id)
        view = await bridge_work.complete(self._ctx, document_id=request.document_id, lease_token=request.lease_token,
                                          outcome=outcome)
        return edge_pb.CompleteBridgeWorkResponse(document=bridge_convert.document_ref(view, self._ctx.bridge))


_SOURCES = {
    edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_EVENT: bridge_events.ETHERPAD_EVENT,
    edge_pb.BRIDGE_EVENT_SOURCE_ETHERPAD_REDEEM: bridge_events.ETHERPAD_REDEEM,
    edge_pb.BRIDGE_EVENT_SOURCE_CODIMD_WEBHOOK: bridge_events.CODIMD_WEBHOOK,
    edge_pb.BRIDGE_EVENT_SOURCE_HOCUSPOCUS_WEBHOOK: bridge_events.HOCUSPOCUS_WEBHOOK,
}
_WORK_KINDS = {bridge_work.LOAD: edge_pb.BRIDGE_WORK_KIND_LOAD, bridge_work.SAVE: edge_pb.BRIDGE_WORK_KIND_SAVE,
               bridge_work.POLL: edge_pb.BRIDGE_WORK_KIND_POLL, bridge_work.CLOSE: edge_pb.BRIDGE_WORK_KIND_CLOSE}
_OUTCOMES = {
    edge_pb.BRIDGE_WORK_OUTCOME_LOADED: "loaded", edge_pb.BRIDGE_WORK_OUTCOME_SAVED: "saved",
    edge_pb.BRIDGE_WORK_OUTCOME_UNCHANGED: "unchanged", edge_pb.BRIDGE_WORK_OUTCOME_CONFLICT: "conflict",
    edge_pb.BRIDGE_WORK_OUTCOME_RETRY: "retry", edge_pb.BRIDGE_WORK_OUTCOME_FAILED: "failed",
    edge_pb.BRIDGE_WORK_OUTCOME_CLOSED: "closed", edge_pb.BRIDGE_WORK_OUTCOME_POLLED: "polled",
}
