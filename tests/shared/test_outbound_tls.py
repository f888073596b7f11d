"""Outbound HTTPS clients share one verifying TLS context per process (shared/outbound_tls.py):
sharing it must not loosen verification. Checked against a real TLS listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from edge.bridge.wopi_client import BridgeWopiClient, WopiUnavailable
from shared.egress import EgressPolicy, parse_networks
from shared.egress_http import restricted_client
from shared.outbound_tls import verifying_context
from tests.support.certs import Pki, make_pki

LOOPBACK = EgressPolicy(allow=parse_networks(["127.0.0.1/32"]))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def tls_url(pki: Pki) -> AsyncIterator[str]:
    """An HTTPS listener whose certificate only the test's own CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server.cert, pki.server.key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # a client that refused the certificate hangs up in the handshake
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    yield f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    server.close()
    await server.wait_closed()


@pytest.fixture
def fresh_contexts() -> Iterator[None]:
    """Contexts are built once per process: a test that changes the environment starts afresh."""
    verifying_context.cache_clear()
    yield
    verifying_context.cache_clear()


def test_the_shared_context_requires_a_valid_certificate_for_the_name() -> None:
    for trust_env in (True, False):
        context = verifying_context(trust_env=trust_env)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_each_kind_of_trust_is_built_once_per_process() -> None:
    assert verifying_context(trust_env=False) is verifying_context(trust_env=False)
    assert verifying_context(trust_env=True) is not verifying_context(trust_env=False)


async def test_the_restricted_client_refuses_a_certificate_no_trusted_ca_signed(tls_url: str) -> None:
    async with restricted_client(LOOPBACK, timeout_s=10) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(tls_url)


async def test_the_bridges_wopi_client_refuses_a_certificate_no_trusted_ca_signed(tls_url: str) -> None:
    # The listener answers "ok" to anything: only the refused handshake makes the edge "unreachable".
    client = BridgeWopiClient(tls_url.rstrip("/"))
    try:
        with pytest.raises(WopiUnavailable, match="unreachable"):
            await client.get_file("1", "token", kind="etherpad")
    finally:
        await client.aclose()


async def test_a_ca_in_ssl_cert_file_is_trusted_only_where_the_environment_is(
        tls_url: str, pki: Pki, fresh_contexts: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    async with httpx.AsyncClient(verify=verifying_context(trust_env=True)) as trusting:
        assert (await trusting.get(tls_url)).text == "ok"
    async with restricted_client(LOOPBACK, timeout_s=10) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(tls_url)
