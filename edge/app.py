"""create_app(settings): the edge's Quart app, wired with its runtime when serving starts."""

from __future__ import annotations

import logging
import time

from quart import Quart, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from edge.control_client import ControlClient
from edge.host.page import blueprint as host_blueprint
from edge.runtime import EdgeRuntime
from edge.settings import EdgeSettings
from edge.storage_pool import StoragePool
from edge.streaming import BoundedHTTPConnection, BoundedRequest
from edge.wopi.errors import domain_error_response, http_error_response, unexpected_error_response
from edge.wopi.routes import blueprint as wopi_blueprint
from shared.errors import WopiProxyError

access_log = logging.getLogger("wopi_proxy.access")


def create_app(settings: EdgeSettings) -> Quart:
    app = Quart("wopi_proxy_edge")
    app.request_class = BoundedRequest
    app.asgi_http_class = BoundedHTTPConnection  # type: ignore[assignment]
    # Size limits are per storage and enforced while streaming; Quart's 16 MiB default would
    # refuse large saves outright, and its body timeout would cut slow ones.
    app.config.update(MAX_CONTENT_LENGTH=None, BODY_TIMEOUT=None, PROVIDE_AUTOMATIC_OPTIONS=False)

    app.register_blueprint(wopi_blueprint)
    app.register_blueprint(host_blueprint)
    app.register_error_handler(WopiProxyError, domain_error_response)
    app.register_error_handler(HTTPException, http_error_response)  # 404/405 of routing, not incidents
    app.register_error_handler(Exception, unexpected_error_response)

    @app.before_serving
    async def _connect() -> None:
        control = ControlClient(settings.control_address, settings.api_key,
                                read_timeout_s=settings.control_read_timeout_s,
                                write_timeout_s=settings.control_write_timeout_s)
        app.extensions["wopi_proxy"] = EdgeRuntime(settings=settings, control=control, storages=StoragePool())

    @app.after_serving
    async def _disconnect() -> None:
        await app.extensions["wopi_proxy"].control.close()

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.before_request
    async def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def _log_access(response: Response) -> Response:
        # The path only: the query string carries the access token.
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access_log.info("%s %s %s %d %.1fms override=%s", request.remote_addr, request.method, request.path,
                        response.status_code, elapsed_ms, request.headers.get("X-WOPI-Override", "-"))
        return response

    return app
