"""`serve`, `control` and `edge`: run the processes until Ctrl-C / SIGTERM, then stop cleanly."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from control.server import start_control
from control.settings import ControlSettings
from edge.app import create_app
from edge.server import bind_socket, serve_http
from edge.settings import EdgeSettings
from gateway import register_gateway

log = logging.getLogger("wopi_proxy")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _write_ready_file(path: str | None, **ports: int) -> None:
    """Tests and supervisors learn the bound ports (port 0 = ephemeral) from this file."""
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as out:
            json.dump(ports, out)
        os.replace(tmp, path)


async def serve(control: ControlSettings, edge_host: str, edge_port: int, public_url: str | None,
                ready_file: str | None, max_file_size: int) -> None:
    """Control plane and edge in one process: the single-machine setup."""
    stop = _stop_event()
    sock = bind_socket(edge_host, edge_port)
    http_port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if edge_host in ("0.0.0.0", "::") else edge_host
    base_url = public_url or f"http://{shown_host}:{http_port}"
    control = ControlSettings(**{**control.__dict__, "wopi_base_url": base_url})
    running = await start_control(control)
    api_key = (control.data_dir / "admin.key").read_text().strip()
    app = create_app(EdgeSettings(control_address=f"127.0.0.1:{running.port}", api_key=api_key,
                                  host=edge_host, port=http_port, max_file_size=max_file_size,
                                  public_url=public_url, egress_allow=control.egress_allow))
    register_gateway(app, f"127.0.0.1:{running.port}")  # REST beside WOPI on the one HTTP port
    http = asyncio.create_task(serve_http(app, sock, stop))
    _write_ready_file(ready_file, http_port=http_port, grpc_port=running.port)
    log.info("wopi-proxy serving: WOPI at %s, gRPC at %s:%d; admin key in %s", base_url, control.grpc_host,
             running.port, control.data_dir / "admin.key")
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        stop.set()
        await http
        await running.stop()


async def control_only(control: ControlSettings, ready_file: str | None) -> None:
    stop = _stop_event()
    running = await start_control(control)
    _write_ready_file(ready_file, grpc_port=running.port)
    try:
        await stop.wait()
    finally:
        await running.stop()


async def edge_only(settings: EdgeSettings, ready_file: str | None, rest_gateway: bool = False) -> None:
    stop = _stop_event()
    sock = bind_socket(settings.host, settings.port)
    port = sock.getsockname()[1]
    app = create_app(settings)
    if rest_gateway:
        register_gateway(app, settings.control_address)
    http = asyncio.create_task(serve_http(app, sock, stop))
    _write_ready_file(ready_file, http_port=port)
    try:
        await stop.wait()
    finally:
        stop.set()
        await http


def read_key_file(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SystemExit(f"error: cannot read the API key file {path}: {exc.strerror}") from None
