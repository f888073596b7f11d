"""DiagnoseEditor: the checks of `wopi-proxy doctor editor`, run from the control plane's position.

The control plane is where WOPISrc is built (its public URL) and where discovery is fetched,
so it is the one place that sees both ends. The fetch goes through the registry's own fetch
(same client, same limits and egress rules as CreateEditor and RefreshEditor); nothing is
stored. The findings themselves are control/editors/diagnosis.py's pure functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from control.db.models import AuditEvent, Editor, Session
from control.editors.diagnosis import Finding, diagnose
from control.services import editors
from control.services.context import Principal, ServiceContext
from shared.errors import EgressRefused, FailedPrecondition


@dataclass(frozen=True)
class Diagnosis:
    editor: Editor
    public_url: str
    findings: list[Finding]
    time: int  # ms, when the checks ran


PROOF_FAILURE_HOURS = 24
_PROOF_PREFIX = "PROOF_INVALID: "  # audit.record_refusal's detail: "<reason>: <message>"


async def _proof_failures(ctx: ServiceContext, principal: Principal, editor_id: int, since: int) -> dict[str, int]:
    """Failed proof checks on the editor's sessions since `since`, by reason. A tenant key counts
    only its own tenant's (a pool editor serves other tenants too)."""
    sessions = select(Session.id).where(Session.editor_id == editor_id)
    query = (select(AuditEvent.detail, func.count()).where(
        col(AuditEvent.time) >= since, col(AuditEvent.session_id).in_(sessions),
        col(AuditEvent.detail).startswith(_PROOF_PREFIX)).group_by(AuditEvent.detail).limit(20))
    if not principal.is_admin:
        query = query.where(AuditEvent.tenant_id == principal.tenant_id)
    async with ctx.sessions() as db:
        rows = (await db.exec(query)).all()
    return {detail.removeprefix(_PROOF_PREFIX): int(count) for detail, count in rows}


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


async def diagnose_editor(ctx: ServiceContext, registry: editors.EditorRegistry, principal: Principal, *,
                          name: str, tenant_id: str) -> Diagnosis:
    """Raises EditorNotFound like GetEditor, PermissionDenied for a pool editor and a tenant key
    (like RefreshEditor); a failing fetch is a finding."""
    row = await editors.get_managed_editor(ctx, principal, name=name, tenant_id=tenant_id)
    if row.kind != "wopi":  # a bridged app has no discovery: the edge's worker reports its errors
        finding = Finding(check="bridged-app", severity="ok", summary=f"a bridged {row.kind} app: no discovery "
                          "to check", detail=f"the edge calls {row.app_url}")
        return Diagnosis(editor=row, public_url=ctx.wopi_base_url, findings=[finding], time=ctx.clock())
    seen: list[httpx.Headers] = []
    sent = ctx.clock()
    try:
        with editors.fetch_slot(ctx, principal):
            _, fresh = await registry.fetch(row.discovery_url, operator_owned=row.operator_owned,
                                            on_headers=seen.append)
        error = None
    except (FailedPrecondition, EgressRefused) as failure:  # a refused address is a finding too
        fresh, error = None, failure.metadata.get("detail") or failure.message
    received = ctx.clock()
    assert row.id is not None
    failures = await _proof_failures(ctx, principal, row.id, received - PROOF_FAILURE_HOURS * 3600 * 1000)
    findings = diagnose(
        discovery_url=row.discovery_url, policy=row.proof_policy, public_url=ctx.wopi_base_url, fresh=fresh,
        fetch_error=error, date_header=seen[0].get("date") if seen else None, sent=_moment(sent),
        received=_moment(received), stored=registry.discovery(row),
        stored_fetch_time=_moment(row.fetch_time) if row.fetch_time else None,
        stored_fetch_error=row.discovery_error, proof_failures=failures, failure_hours=PROOF_FAILURE_HOURS,
    )
    return Diagnosis(editor=row, public_url=ctx.wopi_base_url, findings=findings, time=received)
