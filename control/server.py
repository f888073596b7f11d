"""Builds and runs the control plane's grpc.aio server (health and reflection included)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy.ext.asyncio import AsyncEngine

from control.api.audit_servicer import AuditServicer, audit_grpc, audit_pb
from control.api.auth import AuthInterceptor
from control.api.edge_servicer import EdgeServicer
from control.api.editor_servicer import EditorServicer
from control.api.file_servicer import FileServicer
from control.api.protos import (
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
from control.db.engine import create_engine, create_schema, session_factory
from control.db.models import Storage
from control.secrets import bind_engine, check_key, load_secret_box
from control.services.audit_retention import AuditRetention
from control.services.context import ServiceContext
from control.services.editors import EditorRegistry
from control.services.keys import Authenticator, ensure_admin_key
from control.services.webhooks import WebhookDispatcher
from control.services.write_intents import IntentSweeper
from control.settings import ControlSettings

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
]
# Internal (wopiproxy.internal.v1): health-checked, served, but not listed by reflection.
INTERNAL_SERVICE_NAMES = [edge_pb.DESCRIPTOR.services_by_name["EdgeService"].full_name]
SERVICE_NAMES = PUBLIC_SERVICE_NAMES + INTERNAL_SERVICE_NAMES


@dataclass
class RunningControl:
    server: grpc.aio.Server
    engine: AsyncEngine
    port: int
    health: health.aio.HealthServicer  # type: ignore[name-defined]
    background: list[asyncio.Task[None]]
    stopping: asyncio.Event
    editors: EditorRegistry

    async def stop(self, grace: float = 5.0) -> None:
        for name in ["", *SERVICE_NAMES]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.stopping.set()
        await self.server.stop(grace)
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.editors.close()
        await self.engine.dispose()


async def start_control(settings: ControlSettings) -> RunningControl:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    box = load_secret_box(data_dir=settings.data_dir, key_file=settings.secret_key_file)
    engine = create_engine(settings.effective_database_url)
    bind_engine(engine, box)
    await create_schema(engine)
    await check_key(engine, box, table=Storage.__tablename__, column="options_json")
    ctx = ServiceContext(sessions=session_factory(engine), wopi_base_url=settings.wopi_base_url,
                         default_session_ttl_s=settings.default_session_ttl_s,
                         write_intent_ttl_ms=int(settings.write_intent_ttl_s * 1000))
    await ensure_admin_key(ctx, settings.data_dir)

    authenticator = Authenticator(ctx)
    server = grpc.aio.server(
        interceptors=[AuthInterceptor(authenticator)],
        options=[("grpc.max_receive_message_length", 16 << 20)],
    )
    tenant_grpc.add_TenantServiceServicer_to_server(TenantServicer(ctx, authenticator), server)
    key_grpc.add_KeyServiceServicer_to_server(KeyServicer(ctx, authenticator), server)
    storage_grpc.add_StorageServiceServicer_to_server(StorageServicer(ctx), server)
    registry = EditorRegistry(ctx)
    session_grpc.add_SessionServiceServicer_to_server(SessionServicer(ctx, registry), server)
    editor_grpc.add_EditorServiceServicer_to_server(EditorServicer(ctx, registry), server)
    file_grpc.add_FileServiceServicer_to_server(FileServicer(ctx), server)
    audit_grpc.add_AuditServiceServicer_to_server(AuditServicer(ctx), server)
    edge_grpc.add_EdgeServiceServicer_to_server(EdgeServicer(ctx, registry), server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *SERVICE_NAMES]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    enable_reflection(
        [*PUBLIC_SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    if port == 0:
        raise OSError(f"cannot listen on {settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    stopping = asyncio.Event()
    background = [asyncio.create_task(WebhookDispatcher(ctx).run(stopping), name="webhooks"),
                  asyncio.create_task(registry.refresh_all_periodically(stopping), name="discovery")]
    background.append(asyncio.create_task(AuditRetention(ctx).run(stopping), name="audit-retention"))
    # Writes a crash left unconfirmed are resolved from storage (control.services.write_intents).
    background.append(asyncio.create_task(IntentSweeper(ctx, settings.intent_sweep_interval_s).run(stopping),
                                          name="write-intents"))
    log.info("control plane listening on %s:%d (database %s)", settings.grpc_host, port,
             engine.url.render_as_string(hide_password=True))
    return RunningControl(server=server, engine=engine, port=port, health=health_servicer, background=background,
                          stopping=stopping, editors=registry)
