"""The baseline: a trivial Quart app served exactly as the edge is (edge.server's socket and config).

Whatever the edge costs beyond this app is wopi-proxy's own work (authorization round trip,
storage I/O, logging), so the benchmark reports ratios against it rather than absolute figures.

Run as a subprocess: python bench/trivial_app.py --ready-file FILE [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import tempfile
from collections.abc import AsyncIterator

import grpc
from quart import Quart, Response, jsonify, request

from edge.server import bind_socket, serve_http
from shared.logs import configure as configure_logging
from trivial_grpc import METHOD

STREAM_SIZE = 100 * 1024 * 1024  # the same size as the wopi-proxy GetFile target
CHUNK_SIZE = 1 << 20  # EdgeSettings.chunk_size: the edge streams in 1 MiB reads too
SMALL_SIZE = 100 * 1024  # the same size as the small wopi-proxy file


def create_app(grpc_target: str = "", upload_dir: str = "") -> Quart:
    """One JSON endpoint, one JSON endpoint behind one trivial gRPC call to another process (both vs
    CheckFileInfo), one 100 KiB body and one 100 MiB stream (vs GetFile), one durable upload (vs
    PutFile)."""
    app = Quart("bench_trivial")
    state: dict[str, grpc.aio.Channel] = {}

    @app.before_serving
    async def open_channel() -> None:
        if grpc_target:  # one channel for the app's lifetime, as the edge keeps its control channel
            state["channel"] = grpc.aio.insecure_channel(grpc_target)

    @app.after_serving
    async def close_channel() -> None:
        if "channel" in state:
            await state["channel"].close()

    @app.get("/grpc")
    async def via_grpc() -> Response:
        """The edge's shape without its work: one unary round trip, then a tiny JSON answer."""
        if "channel" not in state:
            return Response("no --grpc-target", status=503)
        ping = state["channel"].unary_unary(METHOD)
        await ping(b"ping", timeout=10)
        return jsonify({"status": "ok"})
    chunk = os.urandom(CHUNK_SIZE)
    small = os.urandom(SMALL_SIZE)

    @app.get("/json")
    async def tiny_json() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/small")
    async def small_body() -> Response:
        response = Response(small, status=200, mimetype="application/octet-stream")
        return response

    @app.get("/stream")
    async def stream() -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            remaining = STREAM_SIZE
            while remaining > 0:
                piece = chunk if remaining >= CHUNK_SIZE else chunk[:remaining]
                remaining -= len(piece)
                yield piece

        response = Response(chunks(), status=200, mimetype="application/octet-stream")
        response.headers["Content-Length"] = str(STREAM_SIZE)
        response.timeout = None  # as in the edge's GetFile: no RESPONSE_TIMEOUT cut-off
        return response

    @app.post("/upload")
    async def upload() -> Response:
        """The floor of a durable save, without authorization, lock or version: the body hashed and
        written to a new file in a worker thread, fsynced, renamed over the old one."""
        if not upload_dir:
            return Response("no --upload-dir", status=503)
        body: bytes = await request.body  # the whole body, as the edge stages it

        def save() -> str:
            digest = hashlib.sha256(body).hexdigest()
            descriptor, temp = tempfile.mkstemp(dir=upload_dir, prefix=".upload-")
            with os.fdopen(descriptor, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, os.path.join(upload_dir, "upload.bin"))
            return digest
        return jsonify({"sha256": await asyncio.to_thread(save)})

    return app


def write_ready_file(path: str, port: int) -> None:
    """Atomically, as `wopi-proxy serve` does: the benchmark reads the ephemeral port from it."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as out:
        json.dump({"http_port": port}, out)
    os.replace(tmp, path)


async def main(host: str, port: int, ready_file: str, grpc_target: str = "", upload_dir: str = "") -> None:
    """Serves until SIGINT/SIGTERM; writes the bound port to ready_file once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sock = bind_socket(host, port)
    bound_port = sock.getsockname()[1]  # before serve_http: Hypercorn may take the descriptor over
    http = asyncio.create_task(serve_http(create_app(grpc_target, upload_dir), sock, stop))
    write_ready_file(ready_file, bound_port)
    try:
        await stop.wait()
    finally:
        stop.set()
        await http
        # Hypercorn owns and closes the listening descriptor (edge.server hands it over); an
        # older edge.server did not detach it, so a second close failed with EBADF.
        with contextlib.suppress(OSError):
            sock.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--grpc-target", default="", help="host:port of bench/trivial_grpc.py (for /grpc)")
    parser.add_argument("--upload-dir", default="", help="the folder /upload saves into (for /upload)")
    args = parser.parse_args()
    configure_logging("INFO")  # the same logging set-up as `wopi-proxy serve`
    asyncio.run(main(args.host, args.port, args.ready_file, args.grpc_target, args.upload_dir))
