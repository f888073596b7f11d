"""The public AuditService: the audit trail, listed and verified."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from wopiproxy.control.v1 import audit_service_pb2 as audit_pb
from wopiproxy.control.v1 import audit_service_pb2_grpc as audit_grpc

from control.api.auth import current_principal
from control.api.convert import milliseconds, timestamp
from control.api.errors import grpc_errors
from control.db.models import AuditEvent
from control.services import audit_queries
from control.services.context import ServiceContext

Ctx: TypeAlias = grpc.aio.ServicerContext


def audit_event(row: AuditEvent) -> audit_pb.AuditEvent:
    return audit_pb.AuditEvent(
        id=row.id or 0, time=timestamp(row.time), tenant_id=row.tenant_id or "", actor=row.actor,
        session_id=row.session_id or "", file_id=row.file_id or "", operation=row.operation, outcome=row.outcome,
        status=row.status, size=row.size or 0, version_before=row.version_before, version_after=row.version_after,
        lock_hash=row.lock_hash, editor=row.editor, client_address=row.client_address,
        correlation_id=row.correlation_id, detail=row.detail, previous_hash=row.previous_hash, hash=row.hash,
    )


def _ms(request: audit_pb.ListAuditEventsRequest, field: str) -> int | None:
    if not request.HasField(field):
        return None
    stamp: Timestamp = getattr(request, field)
    return milliseconds(stamp)


class AuditServicer(audit_grpc.AuditServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @grpc_errors
    async def ListAuditEvents(
        self, request: audit_pb.ListAuditEventsRequest, context: Ctx
    ) -> audit_pb.ListAuditEventsResponse:
        where = audit_queries.AuditFilter(
            tenant_id=request.tenant_id, session_id=request.session_id, file_id=request.file_id,
            user_id=request.user_id, operation=request.operation, outcome=request.outcome,
            start_time=_ms(request, "start_time"), end_time=_ms(request, "end_time"),
        )
        rows, token = await audit_queries.list_events(self._ctx, current_principal(), where=where,
                                                      page_size=request.page_size, page_token=request.page_token)
        return audit_pb.ListAuditEventsResponse(events=[audit_event(r) for r in rows], next_page_token=token)

    @grpc_errors
    async def VerifyAuditChain(
        self, request: audit_pb.VerifyAuditChainRequest, context: Ctx
    ) -> audit_pb.VerifyAuditChainResponse:
        report = await audit_queries.verify_chains(self._ctx, current_principal(), tenant_id=request.tenant_id)
        return audit_pb.VerifyAuditChainResponse(ok=report.ok, checked=report.checked,
                                                 broken_tenant_id=report.broken_tenant_id,
                                                 broken_event_id=report.broken_event_id, reason=report.reason)
