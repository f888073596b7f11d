"""`python -m gateway --control HOST:PORT [--host H] [--port P]`: the gateway as its own process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from hypercorn.asyncio import serve
from hypercorn.config import Config

from gateway.app import create_gateway_app


async def _run(control: str, host: str, port: int) -> None:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None  # as in the edge: no access log of query strings; the app logs its errors
    config.graceful_timeout = 10
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown.set)
    await serve(create_gateway_app(control), config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="wopi-proxy REST gateway")
    parser.add_argument("--control", default=os.environ.get("WOPI_PROXY_CONTROL", "127.0.0.1:50051"),
                        help="control plane HOST:PORT (env WOPI_PROXY_CONTROL)")
    parser.add_argument("--host", default=os.environ.get("WOPI_PROXY_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WOPI_PROXY_GATEWAY_PORT", "8080")))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_run(args.control, args.host, args.port))


if __name__ == "__main__":
    main()
