"""register_gateway(app, control_address): the REST gateway as routes of a Quart app.

One Quart rule per path of the route table; its view transcodes the HTTP request into the proto
request, calls the control plane through a generic multicallable of one long-lived grpc.aio
channel (opened in before_serving, closed in after_serving), and transcodes the reply or the
status back. No handler is written per route: the route table comes from the protos.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message
from quart import Quart, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from gateway import status
from gateway.openapi import build_openapi
from gateway.routes import CONTROL_API_FILES, Route, build_routes, routes_by_rule
from gateway.status import HttpError
from gateway.transcode import HttpInput, TranscodeError, reply_document, request_message
from shared.grpc_channel import MAX_MESSAGE_BYTES, PLAINTEXT, TlsSettings, secure_or_insecure_aio_channel

log = logging.getLogger(__name__)
access_log = logging.getLogger("wopi_proxy.gateway.access")

EXTENSION = "wopi_proxy_gateway"
OPENAPI_PATH = "/openapi.json"
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_CALL_TIMEOUT_S = 30.0
# Every method reaches the view, which answers 405 itself (JSON, with Allow) for the wrong ones.
_RULE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]  # werkzeug adds HEAD to GET
_NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class GatewaySettings:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S  # deadline of unary calls (streams have none)
    body_timeout_s: float = 30.0  # a client must send its whole body within this
    # A stream that fails at once (bad key, bad cursor) gets a real error status; one still silent
    # after this long is answered 200, and a later failure becomes its last line.
    stream_start_wait_s: float = 1.0


@dataclass
class _Upstream:
    """The channel and one multicallable per RPC, alive between before_serving and after_serving."""

    channel: grpc.aio.Channel
    callables: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, address: str, routes: list[Route], tls: TlsSettings) -> _Upstream:
        channel = secure_or_insecure_aio_channel(address, tls, options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
        upstream = cls(channel=channel)
        for route in routes:
            if route.rpc_path in upstream.callables:
                continue
            reply_class = message_factory.GetMessageClass(route.method.output_type)
            factory = channel.unary_stream if route.server_streaming else channel.unary_unary
            upstream.callables[route.rpc_path] = factory(
                route.rpc_path, request_serializer=_serialize, response_deserializer=reply_class.FromString,
            )
        return upstream


class _Refused(Exception):
    """Ends a request with an error reply the gateway decided on itself."""

    def __init__(self, error: HttpError) -> None:
        super().__init__(error.message)
        self.error = error


class _Gateway:
    def __init__(self, control_address: str, settings: GatewaySettings, routes: list[Route],
                 tls: TlsSettings) -> None:
        self.control_address = control_address
        self.settings = settings
        self.tls = tls
        self.routes = routes
        self.upstream: _Upstream | None = None

    async def open(self) -> None:
        self.upstream = _Upstream.open(self.control_address, self.routes, self.tls)

    async def close(self) -> None:
        if self.upstream is not None:
            await self.upstream.channel.close()
            self.upstream = None

    def view(self, by_method: dict[str, Route]) -> Callable[..., Awaitable[Response]]:
        allowed = sorted(by_method)

        async def gateway_view(**path_values: str) -> Response:
            if request.method == "OPTIONS":
                return Response(status=204, headers={"Allow": ", ".join([*allowed, "OPTIONS"])})
            route = by_method.get(request.method)
            if request.method == "HEAD" and "GET" in by_method and not by_method["GET"].server_streaming:
                route = by_method["GET"]  # the reply without its body (a HEAD on a stream would hold it open)
            if route is None:
                return error_response(status.method_not_allowed(request.method, request.path, allowed),
                                      {"Allow": ", ".join(allowed)})
            try:
                return await self.handle(route, path_values)
            except _Refused as refused:
                return error_response(refused.error)
            except TranscodeError as error:
                return error_response(status.invalid_argument(error.field, error.description))
            except Exception:
                incident = secrets.token_hex(4)
                log.exception("gateway error in %s %s (incident %s)", route.http_method, route.template, incident)
                return error_response(status.internal(incident))

        return gateway_view

    async def handle(self, route: Route, path_values: dict[str, str]) -> Response:
        metadata = _forwarded_metadata()  # before the body: anyone can send one, only callers with a key are read
        if route.body and not metadata:
            raise _Refused(status.no_credentials())
        body = await self._read_body() if route.body else b""
        message = request_message(route, HttpInput(path_values=path_values,
                                                   query=list(request.args.items(multi=True)), body=body))
        if self.upstream is None:
            raise RuntimeError("the gateway is not serving (before_serving has not run)")
        multicallable = self.upstream.callables[route.rpc_path]
        if route.server_streaming:
            return await self._stream(route, multicallable(message, metadata=metadata))
        try:
            reply = await multicallable(message, metadata=metadata, timeout=self.settings.call_timeout_s)
        except grpc.aio.AioRpcError as error:
            return error_response(status.from_rpc_error(error))
        return json_response(reply_document(reply, route))

    async def _read_body(self) -> bytes:
        limit = self.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _Refused(status.payload_too_large(limit))
        data = bytearray()
        try:
            async with asyncio.timeout(self.settings.body_timeout_s):
                async for chunk in request.body:  # a chunked body has no Content-Length to check
                    data += chunk
                    if len(data) > limit:
                        raise _Refused(status.payload_too_large(limit))
        except TimeoutError:
            raise _Refused(status.body_timeout(self.settings.body_timeout_s)) from None
        except RequestEntityTooLarge:  # the app's own MAX_CONTENT_LENGTH, when lower
            raise _Refused(status.payload_too_large(limit)) from None
        return bytes(data)

    async def _stream(self, route: Route, call: Any) -> Response:
        first: asyncio.Future[Any] = asyncio.ensure_future(call.read())
        done, _ = await asyncio.wait({first}, timeout=self.settings.stream_start_wait_s)
        if done and isinstance(first.exception(), grpc.aio.AioRpcError):
            return error_response(status.from_rpc_error(first.exception()))  # type: ignore[arg-type]
        response = Response(_ReplyLines(call, first, route), status=200, content_type=_NDJSON)
        response.headers["Cache-Control"] = "no-store"
        response.timeout = None  # Quart's RESPONSE_TIMEOUT would cut the stream silently
        return response


class _ReplyLines:
    """The NDJSON body of a server-streaming call: one reply per line; a failure after the first
    line becomes a last line {"error": ...}. Closing it (client gone) cancels the call."""

    def __init__(self, call: Any, first: asyncio.Future[Any], route: Route) -> None:
        self._call = call
        self._next: asyncio.Future[Any] | None = first
        self._route = route
        self._finished = False

    def __aiter__(self) -> _ReplyLines:
        return self

    async def __anext__(self) -> bytes:
        if self._finished:
            raise StopAsyncIteration
        try:
            if self._next is not None:
                pending, self._next = self._next, None
                item = await pending
            else:
                item = await self._call.read()
        except grpc.aio.AioRpcError as error:
            self._finished = True
            return _line(status.from_rpc_error(error).document())
        except BaseException:  # CancelledError when the client disconnects
            self._cancel()
            raise
        if item is grpc.aio.EOF:
            self._finished = True
            raise StopAsyncIteration
        return _line(reply_document(item, self._route))

    async def aclose(self) -> None:
        self._cancel()

    def _cancel(self) -> None:
        self._finished = True
        if self._next is not None:
            self._next.cancel()
        self._call.cancel()


def register_gateway(app: Quart, control_address: str, *, settings: GatewaySettings = GatewaySettings(),
                     files: tuple[FileDescriptor, ...] = CONTROL_API_FILES, tls: TlsSettings = PLAINTEXT) -> None:
    """Adds the REST routes of every google.api.http rule in `files`, and GET /openapi.json, to `app`;
    `tls` secures its channel to the control plane.

    The routes answer JSON errors themselves (400, 405, 413, and every gRPC status); a 404 for a
    path that is not a route belongs to the host app (create_gateway_app installs a JSON one).
    """
    if EXTENSION in app.extensions:
        raise RuntimeError("register_gateway was called twice on this app")
    routes = build_routes(files)
    gateway = _Gateway(control_address, settings, routes, tls)
    app.extensions[EXTENSION] = gateway
    for rule, by_method in routes_by_rule(routes).items():
        app.add_url_rule(rule, endpoint=f"{EXTENSION}:{rule}", view_func=gateway.view(by_method),
                         methods=_RULE_METHODS, provide_automatic_options=False)

    document = json.dumps(build_openapi(routes))

    async def openapi_document() -> Response:
        return Response(document, content_type="application/json")

    app.add_url_rule(OPENAPI_PATH, endpoint=f"{EXTENSION}:openapi", view_func=openapi_document, methods=["GET"])
    app.before_serving(gateway.open)
    app.after_serving(gateway.close)


def create_gateway_app(control_address: str, *, settings: GatewaySettings = GatewaySettings(),
                       tls: TlsSettings = PLAINTEXT) -> Quart:
    """The gateway as an app of its own: its routes, /healthz, and JSON for every error."""
    app = Quart("wopi_proxy_gateway")
    # The gateway enforces its own body limit (also on chunked bodies); Quart's applies on top.
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, PROVIDE_AUTOMATIC_OPTIONS=False)
    register_gateway(app, control_address, settings=settings, tls=tls)

    async def healthz() -> Response:
        return json_response({"status": "ok"})

    app.add_url_rule("/healthz", endpoint="healthz", view_func=healthz, methods=["GET"])

    @app.before_request
    async def _start_timer() -> None:
        g.gateway_started = time.perf_counter()

    @app.after_request
    async def _log_access(response: Response) -> Response:
        # The path only: query strings name tenants, users and files.
        elapsed_ms = (time.perf_counter() - g.get("gateway_started", time.perf_counter())) * 1000
        access_log.info("%s %s %s %d %.1fms", request.remote_addr, request.method, request.path,
                        response.status_code, elapsed_ms)
        return response

    async def http_exception(error: HTTPException) -> Response:
        return _http_exception_response(error, settings.max_body_bytes)

    async def unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return _http_exception_response(error, settings.max_body_bytes)
        incident = secrets.token_hex(4)
        log.error("unexpected error (incident %s)", incident, exc_info=error)
        return error_response(status.internal(incident))

    app.register_error_handler(HTTPException, http_exception)
    app.register_error_handler(Exception, unexpected)
    return app


def json_response(document: Any, http_status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(document), status=http_status, content_type="application/json")
    # Replies carry access tokens and API keys (CreateSession, CreateApiKey): never cached.
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: HttpError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.document(), error.http_status, {**error.headers, **(headers or {})})


def _http_exception_response(error: HTTPException, max_body_bytes: int) -> Response:
    code = error.code or 500
    if code == 404:
        return error_response(status.not_found(request.method, request.path))
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(m for m in (error.valid_methods or []) if m not in ("HEAD", "OPTIONS"))
        return error_response(status.method_not_allowed(request.method, request.path, allowed),
                              {"Allow": ", ".join(allowed)})
    if code == 413:
        return error_response(status.payload_too_large(max_body_bytes))
    status_name = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}.get(code, "UNKNOWN")
    return error_response(HttpError(http_status=code, status=status_name, message=error.description or ""))


def _forwarded_metadata() -> tuple[tuple[str, str], ...]:
    """The caller's credentials, passed on as they came: the control plane judges them (a missing
    or wrong key is its UNAUTHENTICATED, 401 here). Never logged."""
    authorization = request.headers.get("Authorization")
    if authorization is None:
        return ()
    if not authorization.isascii() or not authorization.isprintable():
        # gRPC metadata values are printable ASCII; such a header cannot be a key of ours.
        raise _Refused(HttpError(http_status=401, status="UNAUTHENTICATED",
                                 message="the Authorization header is not printable ASCII"))
    return (("authorization", authorization),)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _line(document: Any) -> bytes:
    return json.dumps(document).encode() + b"\n"
