"""A tenant's S3 storage names an endpoint of the tenant's choosing, which may answer without end.
aiobotocore read every answer that is not a download (listings, errors, a multipart upload's
completion) whole into memory, bounded by nothing: one CreateStorage probe grew the control plane by
635 MiB for a 200 MiB answer, and one WOPI request the edge alike. Answers are now read up to
shared.storage.s3.MAX_ANSWER_BYTES (16 MiB) and refused past it. The endpoint here is on 127.0.0.1,
allowed by --egress-allow as a stand-in for any public address."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import httpx
import pytest

from shared.storage.s3 import MAX_ANSWER_BYTES
from tests.security.storage_support import create_storage, hostile_tenant, open_session
from tests.support.deployment import Deployment
from tests.support.http_stub import HandlerServer, QuietHandler
from tests.support.memory import peak_growth_mib

Deploy = Callable[..., Deployment]
SENT_AT_MOST = 256 << 20  # what the endpoint sends before it gives up: more than any cap, less than a machine
ALLOWED_GROWTH_MIB = 64
ALLOW_LOOPBACK = ("--egress-allow", "127.0.0.1/32")
LISTING = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
           b"<Name>bucket</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys>"
           b"<IsTruncated>false</IsTruncated></ListBucketResult>")
ENTRY = b"<Contents><Key>k</Key><Size>1</Size></Contents>" * 1000


class EndlessS3(HandlerServer):
    """Answers every request with a status and a body of ever more XML, no Content-Length, until
    SENT_AT_MOST or the client hangs up. `honest`: a real empty listing for the storage's creation
    (then the same request is flooded once `honest` is cleared)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.honest = False
        self.sent = 0
        endless = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                if endless.honest:
                    body = LISTING if self.command == "GET" else b""
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(LISTING) if self.command == "GET" else 0))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(endless.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self.wfile.write(b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>')
                    while endless.sent < SENT_AT_MOST:
                        self.wfile.write(ENTRY)
                        endless.sent += len(ENTRY)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_HEAD = do_PUT = do_POST = _handle

        super().__init__(Handler)


@pytest.fixture
def endless_listing() -> Iterator[EndlessS3]:
    server = EndlessS3(200)
    yield server
    server.stop()


@pytest.fixture
def endless_error() -> Iterator[EndlessS3]:
    server = EndlessS3(403)
    yield server
    server.stop()


def _options(endpoint: EndlessS3) -> dict[str, str]:
    return {"key": "tenant-key", "secret": "tenant-secret-" + "s" * 16, "region": "us-east-1",
            "endpoint_url": endpoint.url, "addressing_style": "path"}


def test_an_endless_listing_refuses_the_storage_without_filling_the_control_plane(
        deploy: Deploy, endless_listing: EndlessS3) -> None:
    deployment = deploy("split", control_args=ALLOW_LOOPBACK)
    hostile = hostile_tenant(deployment)
    refused: list[grpc.RpcError] = []

    def create() -> None:
        try:
            create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3", name="s3",
                           options=_options(endless_listing))
        except grpc.RpcError as error:
            refused.append(error)

    grown = peak_growth_mib(deployment.processes[0].process.pid, create)
    assert refused, "the storage was accepted"
    assert refused[0].code() == grpc.StatusCode.FAILED_PRECONDITION, refused[0].details()
    assert f"passed {MAX_ANSWER_BYTES} bytes" in str(refused[0].details()), refused[0].details()
    assert grown < ALLOWED_GROWTH_MIB, f"the control plane grew by {grown:.0f} MiB\n{deployment.log()}"
    assert endless_listing.sent < SENT_AT_MOST, "the endpoint was read to its end"


def test_an_endless_error_answer_fails_the_wopi_request_without_filling_the_edge(
        deploy: Deploy, endless_error: EndlessS3) -> None:
    """The storage and the session are made while the endpoint answers honestly; then the
    download's answer is a 403 without end."""
    deployment = deploy("split", control_args=ALLOW_LOOPBACK, edge_args=ALLOW_LOOPBACK)
    hostile = hostile_tenant(deployment)
    endless_error.honest = True
    create_storage(hostile.api, hostile.tenant_id, "bucket", protocol="s3", name="s3", options=_options(endless_error))
    session = open_session(hostile.api, hostile.tenant_id, "a.docx", storage="s3")
    endless_error.honest = False
    url = f"{session.session.wopi_src}/contents"
    answers: list[httpx.Response] = []
    grown = peak_growth_mib(deployment.processes[1].process.pid, lambda: answers.append(
        httpx.get(url, params={"access_token": session.access_token}, timeout=120)))
    assert answers[0].status_code >= 500, answers[0].text
    assert grown < ALLOWED_GROWTH_MIB, f"the edge grew by {grown:.0f} MiB\n{deployment.log()}"
    assert endless_error.sent < SENT_AT_MOST, "the endpoint was read to its end"
