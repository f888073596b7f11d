"""`serve`, `control` and `edge`: run the processes until Ctrl-C / SIGTERM, then stop cleanly."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import dataclasses
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.grpc_targets import control_target
from shared.grpc_channel import PLAINTEXT, TlsSettings, loopback_client_tls, secure_or_insecure_aio_channel
from shared import tracing
from shared.heap import freeze_startup_objects
from shared.metrics_http import MetricsSource, metrics_app, process_source

# Each process loads only what it runs (every test deployment pays for the rest at each start): the
# control plane is imported where one starts, the edge (Quart, Hypercorn, the bridge) where an edge
# or a listener does.
if TYPE_CHECKING:
    from control.settings import ControlSettings
    from edge.settings import EdgeSettings

log = logging.getLogger("wopi_proxy")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _write_ready_file(path: str | None, **ports: int | None) -> None:
    """Tests and supervisors learn the bound ports (port 0 = ephemeral) from this file."""
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as out:
            json.dump({name: port for name, port in ports.items() if port is not None}, out)
        os.replace(tmp, path)


async def _metrics_listener(host: str, port: int | None, sources: list[MetricsSource],
                            stop: asyncio.Event) -> tuple[int | None, asyncio.Task[None] | None]:
    """The Prometheus listener of --metrics-port (None: none): its bound port and its task."""
    if port is None:
        return None, None
    from edge.server import bind_socket, serve_asgi

    sock = bind_socket(host, port)
    bound = int(sock.getsockname()[1])
    task = asyncio.create_task(serve_asgi(metrics_app(sources), sock, stop, what="metrics"))
    return bound, task


async def serve(control: ControlSettings, edge_host: str, edge_port: int, public_url: str | None,
                ready_file: str | None, max_file_size: int, own_tls: TlsSettings = PLAINTEXT,
                **edge_options: Any) -> None:
    """Control plane and edge in one process: the single-machine setup. With TLS, the edge and the
    REST gateway inside reach the control plane over TLS too (`own_tls`, see loopback_client_tls);
    `edge_options`: more EdgeSettings fields."""
    from control.server import start_control
    from control.services.keys import EDGE_KEY_FILE
    from control.settings import ControlSettings
    from edge.app import create_app
    from edge.bridge.lifecycle import own_url
    from edge.bridge.worker import worker_name
    from edge.observability import add_metrics_source
    from edge.observability import of as observability_of
    from edge.server import bind_socket, serve_http
    from edge.settings import EdgeSettings
    from gateway import register_gateway

    stop = _stop_event()
    tracing.init("wopi-proxy")
    sock = bind_socket(edge_host, edge_port)
    http_port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if edge_host in ("0.0.0.0", "::") else edge_host
    base_url = public_url or f"http://{shown_host}:{http_port}"
    control = ControlSettings(**{**control.__dict__, "wopi_base_url": base_url})
    tls = loopback_client_tls(control.tls, own_tls)
    running = await start_control(control)
    if control.tls.enabled:
        try:
            await _check_own_tls(f"127.0.0.1:{running.port}", tls)
        except BaseException:
            await running.stop(grace=0)
            raise
    api_key = (control.data_dir / EDGE_KEY_FILE).read_text().strip()  # an edge key: the EdgeService only
    edge_options.setdefault("bridge_wopi_url", None)
    edge_options["bridge_wopi_url"] = edge_options["bridge_wopi_url"] or own_url(edge_host, http_port)
    edge_options.setdefault("bridge_worker_name", worker_name(edge_host, http_port))
    edge_settings = EdgeSettings(control_address=f"127.0.0.1:{running.port}", api_key=api_key,
                                 host=edge_host, port=http_port, max_file_size=max_file_size,
                                 public_url=public_url, control_tls=tls, egress_allow=control.egress_allow,
                                 **edge_options)
    # The edge calls its own control plane in process (shared.grpc_local), except when traced: a
    # trace's spans are made by the gRPC client's interceptors.
    app = create_app(edge_settings, control_channel=None if tracing.enabled() else running.local)
    register_gateway(app, f"127.0.0.1:{running.port}", tls=tls)  # REST beside WOPI on the one HTTP port
    # One process: the edge's /metrics (and --metrics-port) show the control plane's series too.
    add_metrics_source(app, running.metrics)
    add_metrics_source(app, process_source())
    metrics_port, metrics_task = await _metrics_listener(control.grpc_host, control.metrics_port,
                                                         observability_of(app).sources, stop)
    http_stop = asyncio.Event()  # set once the bridge worker's saves in flight are done
    http = asyncio.create_task(serve_http(app, sock, http_stop, send_idle_timeout_s=edge_settings.upload_idle_timeout_s))
    freeze_startup_objects()  # full collections then skip start-up's objects (shared.heap)
    _write_ready_file(ready_file, http_port=http_port, grpc_port=running.port, metrics_port=metrics_port)
    log.info("wopi-proxy serving: WOPI at %s, gRPC at %s:%d; admin key in %s", base_url, control.grpc_host,
             running.port, control.data_dir / "admin.key")
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        stop.set()
        await _stop_edge(app, http_stop)
        await http
        if metrics_task:
            await metrics_task
        await running.stop()
        tracing.shutdown()


async def _check_own_tls(address: str, tls: TlsSettings) -> None:
    """Fails the start (not the first WOPI request) when serve's own edge cannot pass its TLS: a
    certificate not made for a name it can expect, or, under mutual TLS, no usable client certificate."""
    async with secure_or_insecure_aio_channel(address, tls) as channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        except grpc.aio.AioRpcError as error:
            raise OSError(f"serve's own edge cannot reach its control plane over TLS ({error.details()}); "
                          "see --tls-ca, --tls-server-name, --tls-client-cert") from None


async def control_only(control: ControlSettings, ready_file: str | None) -> None:
    from control.server import start_control

    stop = _stop_event()
    tracing.init("wopi-proxy-control")
    running = await start_control(control)
    metrics_port, metrics_task = await _metrics_listener(control.grpc_host, control.metrics_port,
                                                         [running.metrics, process_source()], stop)
    freeze_startup_objects()
    _write_ready_file(ready_file, grpc_port=running.port, metrics_port=metrics_port)
    try:
        await stop.wait()
    finally:
        stop.set()
        if metrics_task:
            await metrics_task
        await running.stop()
        tracing.shutdown()


async def edge_only(settings: EdgeSettings, ready_file: str | None, rest_gateway: bool = False,
                    sock: socket.socket | None = None, on_ready: Callable[[int], None] | None = None) -> None:
    """One edge process; `sock`: a listening socket shared with other workers (cli.workers),
    `on_ready`: told the port once serving (instead of the ready file)."""
    from edge.app import create_app
    from edge.bridge.lifecycle import own_url
    from edge.bridge.worker import worker_name
    from edge.observability import add_metrics_source
    from edge.server import bind_socket, serve_http
    from gateway import register_gateway

    stop = _stop_event()
    tracing.init("wopi-proxy-edge")
    sock = sock or bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    if not settings.bridge_wopi_url:
        settings = dataclasses.replace(settings, bridge_wopi_url=own_url(settings.host, port))
    if not settings.bridge_worker_name:
        settings = dataclasses.replace(settings, bridge_worker_name=worker_name(settings.host, port))
    app = create_app(settings)
    add_metrics_source(app, process_source())
    if rest_gateway:
        register_gateway(app, control_target(settings.control_address), tls=settings.control_tls)
    http_stop = asyncio.Event()
    http = asyncio.create_task(serve_http(app, sock, http_stop, send_idle_timeout_s=settings.upload_idle_timeout_s))
    freeze_startup_objects()
    if on_ready is not None:
        on_ready(port)
    _write_ready_file(ready_file, http_port=port)
    try:
        await stop.wait()
    finally:
        stop.set()
        await _stop_edge(app, http_stop)
        await http
        tracing.shutdown()


async def _stop_edge(app: Any, http_stop: asyncio.Event) -> None:
    """The bridge worker first (its saves in flight go through this edge's own WOPI endpoints),
    then the listener."""
    from edge.bridge.lifecycle import stop_worker

    try:
        await stop_worker(app)
    finally:
        http_stop.set()


def read_key_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"error: cannot read the API key file {path}: {exc.strerror}") from None
