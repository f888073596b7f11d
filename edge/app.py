"""create_app(settings): the edge's Quart app, wired with its runtime when serving starts."""

from __future__ import annotations

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from edge import observability
from edge.control_client import ControlClient
from edge.runtime import EdgeRuntime
from edge.settings import EdgeSettings
from edge.storage_pool import StoragePool
from edge.streaming import BoundedHTTPConnection, BoundedRequest
from edge.wopi.errors import domain_error_response, http_error_response, unexpected_error_response
from edge.host.page import blueprint as host_blueprint
from edge.wopi.routes import blueprint as wopi_blueprint
from shared.errors import WopiProxyError


def create_app(settings: EdgeSettings) -> Quart:
    app = Quart("wopi_proxy_edge")
    app.request_class = BoundedRequest
    app.asgi_http_class = BoundedHTTPConnection  # type: ignore[assignment]
    # Size limits are per storage and enforced while streaming; Quart's 16 MiB default would
    # refuse large saves outright, and its body timeout would cut slow ones.
    app.config.update(MAX_CONTENT_LENGTH=None, BODY_TIMEOUT=None, PROVIDE_AUTOMATIC_OPTIONS=False)

    observability.install(app)  # access log, /metrics, tracing when OTEL_* asks
    app.register_blueprint(wopi_blueprint)
    app.register_blueprint(host_blueprint)
    app.register_error_handler(WopiProxyError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)  # 404/405 of routing, not incidents
    app.register_error_handler(Exception, unexpected_error_response)

    @app.before_serving
    async def _connect() -> None:
        control = ControlClient(settings.control_address, settings.api_key, timeout_s=settings.control_timeout_s,
                                interceptors=observability.client_interceptors(app))
        app.extensions["wopi_proxy"] = EdgeRuntime(settings=settings, control=control, storages=StoragePool())

    @app.after_serving
    async def _disconnect() -> None:
        await app.extensions["wopi_proxy"].control.close()

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    return app
