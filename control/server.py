"""Builds and runs the control plane's grpc.aio server (health and reflection included)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.ext.asyncio import AsyncEngine

from control.api.audit_servicer import AuditServicer, audit_grpc, audit_pb
from control.api.auth import AuthInterceptor
from control.db.writer import DecisionWriter
from control.api.bridge_servicer import BridgeServicer
from control.api.edge_servicer import EdgeServicer
from control.api.editor_servicer import EditorServicer
from control.api.file_servicer import FileServicer
from control.api.protos import (
    bridge_grpc,
    bridge_pb,
    edge_grpc,
    edge_pb,
    editor_grpc,
    editor_pb,
    file_grpc,
    file_pb,
    key_grpc,
    key_pb,
    session_grpc,
    session_pb,
    storage_grpc,
    storage_pb,
    tenant_grpc,
    tenant_pb,
)
from control.api.reflection import enable_reflection
from control.api.servicers import KeyServicer, SessionServicer, StorageServicer, TenantServicer
from control.db.engine import create_engine, create_read_engine, session_factory
from control.db.models import Storage
from control.db.schema import ensure_schema
from control.secrets import bind_engine, check_key, load_secret_box
from control.services.event_cursors import EventCursors
from control.services import audit_retention, launch_codes, write_intents
from control.files_at_rest import prepare_data_dir, prepare_sqlite_file
from control.services.context import BridgeSettings, ServiceContext
from control.services.invalid_tokens import InvalidTokenTally
from control.services.keys import Authenticator, ensure_admin_key, ensure_edge_key
from control.services.storage_policy import StoragePolicy
from control.services.tenant_limits import TenantLimits
from control.services.periodic import run_periodically
from control.services.leases import Job, Leases
from control.services.replicas import ReplicaWatch
from control.services.readiness import DatabaseHealth
from control.services.sessions import expire_due_sessions
from control.services.staging_sweep import sweep_all
from control.services.editors import EditorRegistry
from control.services.webhooks import WebhookDispatcher
from control.metrics import ControlMetrics
from control.observability import RpcObserver
from control.settings import ControlSettings
from shared.grpc_local import HandlerRecorder, LocalChannel
from shared.grpc_channel import MAX_MESSAGE_BYTES, SERVER_OPTIONS, ServerTlsSettings, add_port
from shared import tracing
from shared.egress import EgressPolicy

log = logging.getLogger(__name__)

# The public API: health-checked and listed by reflection (grpcurl list).
PUBLIC_SERVICE_NAMES = [
    tenant_pb.DESCRIPTOR.services_by_name["TenantService"].full_name,
    key_pb.DESCRIPTOR.services_by_name["KeyService"].full_name,
    storage_pb.DESCRIPTOR.services_by_name["StorageService"].full_name,
    session_pb.DESCRIPTOR.services_by_name["SessionService"].full_name,
    editor_pb.DESCRIPTOR.services_by_name["EditorService"].full_name,
    file_pb.DESCRIPTOR.services_by_name["FileService"].full_name,
    audit_pb.DESCRIPTOR.services_by_name["AuditService"].full_name,
    bridge_pb.DESCRIPTOR.services_by_name["BridgeService"].full_name,
]
# Internal (wopiproxy.internal.v1): health-checked, served, but not listed by reflection.
INTERNAL_SERVICE_NAMES = [edge_pb.DESCRIPTOR.services_by_name["EdgeService"].full_name]
SERVICE_NAMES = PUBLIC_SERVICE_NAMES + INTERNAL_SERVICE_NAMES


@dataclass
class RunningControl:
    server: grpc.aio.Server
    # The same handlers behind the same interceptors, called in process (serve's edge: shared.grpc_local).
    local: LocalChannel
    engine: AsyncEngine
    port: int
    health: health.aio.HealthServicer  # type: ignore[name-defined]
    background: list[asyncio.Task[None]]
    stopping: asyncio.Event
    editors: EditorRegistry
    metrics: ControlMetrics = field(default_factory=ControlMetrics)  # its registry: control.metrics
    read_engine: AsyncEngine | None = None
    decisions: DecisionWriter | None = None

    async def stop(self, grace: float = 5.0) -> None:
        for name in ["", *SERVICE_NAMES]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.stopping.set()
        await self.server.stop(grace)
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.editors.close()
        if self.decisions is not None:
            await asyncio.to_thread(self.decisions.close)
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()


async def start_control(settings: ControlSettings) -> RunningControl:
    prepare_data_dir(settings.data_dir)
    box = load_secret_box(data_dir=settings.data_dir, key_file=settings.secret_key_file)
    prepare_sqlite_file(settings.sqlite_path)
    engine = create_engine(settings.effective_database_url)
    bind_engine(engine, box)
    try:
        await ensure_schema(engine, migrate=settings.migrate, box=box)
        await check_key(engine, box, table=Storage.__tablename__, column="options_json")
    except BaseException:
        await engine.dispose()
        raise
    read_engine = create_read_engine(settings.effective_database_url)
    if read_engine is not None:
        bind_engine(read_engine, box)
    tally = InvalidTokenTally(window_s=settings.invalid_token_audit_window_s)
    ctx = ServiceContext(sessions=session_factory(engine), wopi_base_url=settings.wopi_base_url,
                         default_session_ttl_s=settings.default_session_ttl_s,
                         launch_code_ttl_s=settings.launch_code_ttl_s, invalid_tokens=tally,
                         storage_policy=StoragePolicy.from_settings(settings),
                         egress=EgressPolicy(allow=settings.egress_allow),
                         write_intent_ttl_ms=int(settings.write_intent_ttl_s * 1000),
                         limits=TenantLimits(storages=settings.max_storages_per_tenant,
                                             editors=settings.max_editors_per_tenant,
                                             open_sessions=settings.max_open_sessions_per_tenant,
                                             event_streams=settings.max_event_streams_per_tenant,
                                             audit_verifications=settings.max_audit_verifications_per_tenant,
                                             discovery_fetches=settings.max_discovery_fetches_per_tenant),
                         read_sessions=session_factory(read_engine) if read_engine is not None else None,
                         bridge=BridgeSettings(
                             save_debounce_s=settings.bridge_save_debounce_s,
                             save_max_wait_s=settings.bridge_save_max_wait_s,
                             poll_interval_s=settings.bridge_poll_interval_s,
                             idle_poll_interval_s=settings.bridge_idle_poll_interval_s,
                             unlock_grace_s=settings.bridge_unlock_grace_s, lease_s=settings.bridge_lease_s,
                             entry_ttl_s=settings.bridge_entry_ttl_s,
                             key=box.derive("bridge document ids")),
                         event_cursors=EventCursors(box.derive("event cursors")))
    # The WOPI grants (with their audit records, group-committed), lock changes and PutFile's
    # BeginWrite/CommitWrite: one call each on the writer thread (control.db.writer).
    decisions = DecisionWriter(settings.effective_database_url, on_commit=ctx.events.notify)
    bind_engine(decisions.engine, box)
    ctx = dataclasses.replace(ctx, decisions=decisions)
    await ensure_admin_key(ctx, settings.data_dir)
    await ensure_edge_key(ctx, settings.data_dir)

    authenticator = Authenticator(ctx)
    metrics = ControlMetrics(ctx)
    # Tracing (when OTEL_* asks) and metrics outermost: refused authentications are seen too.
    interceptors = [*tracing.grpc_server_interceptors(), RpcObserver(metrics), AuthInterceptor(authenticator)]
    grpc_server = grpc.aio.server(
        interceptors=interceptors, options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), *SERVER_OPTIONS])
    server = HandlerRecorder(grpc_server)  # registers on grpc_server; kept for serve's in-process calls
    tenant_grpc.add_TenantServiceServicer_to_server(TenantServicer(ctx, authenticator), server)
    key_grpc.add_KeyServiceServicer_to_server(KeyServicer(ctx, authenticator), server)
    storage_grpc.add_StorageServiceServicer_to_server(StorageServicer(ctx), server)
    registry = EditorRegistry(ctx)
    session_grpc.add_SessionServiceServicer_to_server(SessionServicer(ctx, registry), server)
    editor_grpc.add_EditorServiceServicer_to_server(EditorServicer(ctx, registry), server)
    file_grpc.add_FileServiceServicer_to_server(FileServicer(ctx), server)
    audit_grpc.add_AuditServiceServicer_to_server(AuditServicer(ctx), server)
    bridge_grpc.add_BridgeServiceServicer_to_server(BridgeServicer(ctx), server)
    edge_grpc.add_EdgeServiceServicer_to_server(EdgeServicer(ctx, registry), server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)  # type: ignore[arg-type]
    for name in ["", *SERVICE_NAMES]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    enable_reflection(
        [*PUBLIC_SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        grpc_server,
    )
    port = add_port(grpc_server, settings.grpc_host, settings.grpc_port, settings.tls)
    await grpc_server.start()
    stopping = asyncio.Event()
    db_health = DatabaseHealth(engine, health_servicer, SERVICE_NAMES)
    # Every replica: its own database probe, its own refusal tally, and what the others changed.
    background = [
        asyncio.create_task(run_periodically("database health", settings.health_check_interval_s, stopping,
                                             db_health.probe), name="database-health"),
        asyncio.create_task(tally.run(ctx, stopping), name="invalid-token-audit"),
        asyncio.create_task(ReplicaWatch(ctx, authenticator).run(stopping), name="replica-watch"),
    ]
    # One replica at a time, under a lease (control.services.leases): running these twice is
    # wrong (a webhook delivered twice) or wasteful.
    leases = Leases(ctx, ttl_s=settings.lease_ttl_s)
    leased: dict[str, Job] = {
        "webhooks": lambda stop: WebhookDispatcher(ctx).run(stop),
        "discovery-refresh": registry.refresh_all_periodically,
        "audit-retention": lambda stop: run_periodically(
            "audit retention", audit_retention.PURGE_INTERVAL_S, stop, lambda: audit_retention.purge_expired(ctx)),
        "launch-code-purge": lambda stop: run_periodically(
            "launch code purge", settings.launch_code_purge_interval_s, stop, lambda: launch_codes.purge_expired(ctx)),
        "session-expiry": lambda stop: run_periodically("session expiry", settings.session_expiry_interval_s, stop,
                                                        lambda: expire_due_sessions(ctx)),
        "staging-sweep": lambda stop: run_periodically(
            "staging sweep", settings.staging_sweep_interval_s, stop,
            lambda: sweep_all(ctx, older_than_s=settings.staging_max_age_s)),
        # Writes a crash left unconfirmed are resolved from storage (control.services.write_intents).
        "write-intents": lambda stop: run_periodically(
            "write intent sweep", settings.intent_sweep_interval_s, stop, lambda: write_intents.sweep(ctx)),
    }
    background += [asyncio.create_task(leases.run(name, stopping, job), name=f"lease:{name}")
                   for name, job in leased.items()]
    log.info("control plane listening on %s:%d (%s; database %s)", settings.grpc_host, port,
             _tls_description(settings.tls), engine.url.render_as_string(hide_password=True))
    if settings.egress_allow:
        log.info("egress policy: tenants' URLs may also reach %s", ", ".join(map(str, settings.egress_allow)))
    return RunningControl(server=grpc_server, local=LocalChannel(server, interceptors), engine=engine, port=port, health=health_servicer, background=background,
                          stopping=stopping, editors=registry, metrics=metrics, read_engine=read_engine,
                          decisions=decisions)


def _tls_description(tls: ServerTlsSettings) -> str:
    if not tls.enabled:
        return "plaintext"
    return "TLS, client certificates required" if tls.client_ca_file else "TLS"
