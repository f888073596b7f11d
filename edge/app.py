"""create_app(settings): the edge's Quart app, wired with its runtime when serving starts."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from edge import observability
from edge.bridge import lifecycle as bridge_lifecycle
from edge.bridge.routes import blueprint as bridge_blueprint
from edge.control_client import ControlClient
from edge.host.page import blueprint as host_blueprint
from edge.runtime import EdgeRuntime
from edge.settings import EdgeSettings
from edge.storage_pool import StoragePool
from edge.streaming import BoundedHTTPConnection, BoundedRequest
from edge.reply_guard import release_after_reply
from edge.upload_slots import UploadSlots
from edge.wopi.flood import InvalidTokenLimiter, report_periodically
from edge.wopi.errors import RETRY_AFTER_S, domain_error_response, http_error_response, unexpected_error_response
from edge.wopi.routes import blueprint as wopi_blueprint
from shared.egress import EgressPolicy
from shared.errors import WopiProxyError


def create_app(settings: EdgeSettings, control_channel: Any = None) -> Quart:
    """`control_channel`: serve's in-process channel to its own control plane (shared.grpc_local);
    None: a gRPC channel to `settings.control_address`."""
    app = Quart("wopi_proxy_edge")
    app.request_class = BoundedRequest
    app.asgi_http_class = BoundedHTTPConnection  # type: ignore[assignment]
    # Size limits are per storage and enforced while streaming; Quart's 16 MiB default would
    # refuse large saves outright, and its body timeout would cut slow ones.
    app.config.update(MAX_CONTENT_LENGTH=None, BODY_TIMEOUT=None, PROVIDE_AUTOMATIC_OPTIONS=False)
    app.asgi_app = release_after_reply(app.asgi_app)  # type: ignore[method-assign,assignment,arg-type]  # download slots

    observability.install(app)  # access log, /metrics, tracing when OTEL_* asks
    app.register_blueprint(wopi_blueprint)
    app.register_blueprint(host_blueprint)
    app.register_blueprint(bridge_blueprint)
    app.register_error_handler(WopiProxyError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)  # 404/405 of routing, not incidents
    app.register_error_handler(Exception, unexpected_error_response)

    stopping = asyncio.Event()

    @app.before_serving
    async def _connect() -> None:
        control = ControlClient(settings.control_address, settings.api_key,
                                read_timeout_s=settings.control_read_timeout_s,
                                write_timeout_s=settings.control_write_timeout_s,
                                tls=settings.control_tls,
                                interceptors=observability.client_interceptors(app),
                                observer=observability.control_rpc_observer(app),
                                batch_size=settings.control_batch_size, grant_slots=settings.grant_slots,
                                grant_slots_lead=settings.grant_slots_lead, channel=control_channel)
        observability.watch_grant_slots(app, control.grant_slots)
        flood = InvalidTokenLimiter(per_minute=settings.invalid_token_limit, burst=settings.invalid_token_burst,
                                    max_addresses=settings.max_tracked_addresses)
        uploads = UploadSlots(per_token=settings.max_uploads_per_token, per_tenant=settings.max_uploads_per_tenant,
                              total=settings.max_uploads)
        uploads.export_metrics(observability.of(app).metrics.registry)
        downloads = UploadSlots(per_token=settings.max_downloads_per_token,
                                per_tenant=settings.max_downloads_per_tenant, total=settings.max_downloads,
                                kind="downloads")
        downloads.export_metrics(observability.of(app).metrics.registry)
        app.extensions["wopi_proxy"] = EdgeRuntime(settings=settings, control=control,
                                                   storages=StoragePool(EgressPolicy(allow=settings.egress_allow)),
                                                   flood=flood, uploads=uploads, downloads=downloads)
        app.extensions["wopi_proxy_reporter"] = asyncio.create_task(report_periodically(
            flood, control.report_edge_refusals, interval_s=settings.refusal_report_interval_s, stop=stopping))
        bridge_lifecycle.start(app, settings, control)

    @app.after_serving
    async def _disconnect() -> None:
        await bridge_lifecycle.stop(app)  # already stopped by cli/run.py before the listener closed
        stopping.set()  # the reporter sends what it counted last, then ends
        await asyncio.gather(app.extensions["wopi_proxy_reporter"], return_exceptions=True)
        await app.extensions["wopi_proxy"].control.close()

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        """503 while the control plane cannot answer (nothing but a download could succeed)."""
        ready, detail = await app.extensions["wopi_proxy"].control.readiness()
        response = jsonify({"status": "ready" if ready else "unavailable", "control_plane": detail})
        if not ready:
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    return app
