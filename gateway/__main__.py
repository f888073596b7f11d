"""`python -m gateway --control HOST:PORT [--host H] [--port P] [--tls-ca FILE ...]`: the gateway as its
own process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config

from gateway.app import create_gateway_app
from shared.grpc_channel import TlsSettings
from shared.http_framing import guard_http


async def _run(control: str, host: str, port: int, tls: TlsSettings) -> None:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # as in the edge: no access log of query strings; the app logs its errors
    config.graceful_timeout = 10
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)
    app = guard_http(create_gateway_app(control, tls=tls))  # type: ignore[arg-type]
    await serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    """The gateway's flags (tools/flags_table.py lists them in the README)."""
    parser = argparse.ArgumentParser(prog="python -m gateway", description="wopi-proxy REST gateway")
    parser.add_argument("--control", default=os.environ.get("WOPI_PROXY_CONTROL", "127.0.0.1:50051"),
                        help="control plane HOST:PORT (env WOPI_PROXY_CONTROL)")
    parser.add_argument("--host", default=os.environ.get("WOPI_PROXY_GATEWAY_HOST", "127.0.0.1"),
                        help="address to listen on (env WOPI_PROXY_GATEWAY_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("WOPI_PROXY_GATEWAY_PORT", "8080")),
                        help="HTTP port (env WOPI_PROXY_GATEWAY_PORT, default 8080)")
    env = os.environ.get
    parser.add_argument("--tls-ca", default=env("WOPI_PROXY_TLS_CA"),
                        help="verify the control plane over TLS with this CA bundle (env WOPI_PROXY_TLS_CA)")
    parser.add_argument("--tls-client-cert", default=env("WOPI_PROXY_TLS_CLIENT_CERT"),
                        help="mutual TLS: this client certificate (env WOPI_PROXY_TLS_CLIENT_CERT)")
    parser.add_argument("--tls-client-key", default=env("WOPI_PROXY_TLS_CLIENT_KEY"),
                        help="its private key (env WOPI_PROXY_TLS_CLIENT_KEY)")
    parser.add_argument("--tls-server-name", default=env("WOPI_PROXY_TLS_SERVER_NAME"),
                        help="the name the control plane's certificate carries (env WOPI_PROXY_TLS_SERVER_NAME)")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        tls = TlsSettings(ca_file=_path(args.tls_ca), client_cert_file=_path(args.tls_client_cert),
                          client_key_file=_path(args.tls_client_key), server_name=args.tls_server_name)
    except OSError as exc:
        raise SystemExit(f"error: {exc}") from None
    asyncio.run(_run(args.control, args.host, args.port, tls))


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


if __name__ == "__main__":
    main()
