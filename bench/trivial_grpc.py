"""The baseline's back end: a grpc.aio server with one trivial unary method, in its own process.

The edge answers every WOPI request after one gRPC round trip to the control plane; this server
(with trivial_app.py's /grpc endpoint calling it) is that same shape with no work on either side,
so the ratio against it isolates what wopi-proxy's own work costs.

Run as a subprocess: python bench/trivial_grpc.py --ready-file FILE [--port P]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal

import grpc

SERVICE = "bench.Trivial"
METHOD = f"/{SERVICE}/Ping"


async def _ping(request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
    return request  # echo: raw bytes, no protobuf work either


def handlers() -> grpc.GenericRpcHandler:
    """Raw bytes in and out (no (de)serializers): the cheapest possible unary method."""
    return grpc.method_handlers_generic_handler(SERVICE, {"Ping": grpc.unary_unary_rpc_method_handler(_ping)})


async def main(host: str, port: int, ready_file: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(),))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    tmp = f"{ready_file}.tmp"
    with open(tmp, "w") as out:
        json.dump({"grpc_port": bound}, out)
    os.replace(tmp, ready_file)
    await stop.wait()
    await server.stop(2)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port, args.ready_file))
