"""A tenant runs its own bridged app, so every answer it gives the edge's bridge worker is hostile
input: read with a cap (decoded, so a compressed bomb counts at its inflated size) and never parsed
by a pattern that backtracks. Against a real HTTP server standing in for the tenant's Etherpad."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps._http import MAX_ANSWER_BYTES
from edge.bridge.apps.base import AppUnavailable
from edge.bridge.apps.etherpad import EtherpadApp
from tests.support.http_stub import HandlerServer, QuietHandler

INFLATED = 200 << 20  # what the bomb inflates to: five times the cap
BOMB = gzip.compress(bytes(INFLATED), compresslevel=9)


GROUP_CREATED = json.dumps({"code": 0, "message": "ok", "data": {"groupID": "g.hostile"}}).encode()
# 24 MiB of empty objects (under the byte cap): parsed, each a dict, ~1 GiB in all
MANY_VALUES = b'{"code":0,"message":"ok","data":{"groupID":"g.x","n":[' + b"{}," * (8 << 20) + b"{}]}}"


class HostileEtherpad(HandlerServer):
    """Answers the API with `api_answer` (by default, creates groups like Etherpad) and
    /wopi-proxy/notify with a gzip bomb."""

    def __init__(self, api_answer: bytes = GROUP_CREATED) -> None:
        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/api/"):
                    body = api_answer
                    headers = {"Content-Type": "application/json"}
                else:
                    body, headers = BOMB, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
                self.send_response(200)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        super().__init__(Handler)


@pytest.fixture
def hostile() -> Iterator[HostileEtherpad]:
    server = HostileEtherpad()
    yield server
    server.stop()


@pytest.fixture
async def app(hostile: HostileEtherpad) -> AsyncIterator[EtherpadApp]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield EtherpadApp(edge_pb.BridgeApp(kind="etherpad", url=hostile.url, api_key="k", webhook_secret="s"), http)


async def test_a_compressed_bomb_answering_notify_is_read_no_further_than_the_cap(app: EtherpadApp) -> None:
    """notify posted with the bare client, which inflated the whole answer: 200 KB became 200 MiB."""
    document = edge_pb.BridgedDocumentRef(document_id="d1", tenant_id="t-1", app_doc_id="abcdef0123456789")
    tracemalloc.start()
    try:
        await app.notify(document, "your save was refused")  # best effort: a refused answer is logged
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_ANSWER_BYTES + (16 << 20), f"{peak >> 20} MiB held for a {len(BOMB) >> 10} KiB answer"


async def test_an_api_answer_of_too_many_values_is_refused_before_it_is_parsed() -> None:
    """Parsed JSON costs per value, not per byte: the answer is under the byte cap, yet parsing
    it would hold ~40 times its size in the edge every tenant shares."""
    server = HostileEtherpad(api_answer=MANY_VALUES)
    document = edge_pb.BridgedDocumentRef(document_id="d1", tenant_id="t-1", app_doc_id="abcdef0123456789")
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            app = EtherpadApp(edge_pb.BridgeApp(kind="etherpad", url=server.url, api_key="k", webhook_secret="s"),
                              http)
            tracemalloc.start()
            try:
                with pytest.raises(AppUnavailable, match="more than .* values"):
                    await app.head(document)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        server.stop()
    assert peak < 4 * len(MANY_VALUES), f"{peak >> 20} MiB held for a {len(MANY_VALUES) >> 20} MiB answer"
