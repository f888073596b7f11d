"""Storages a tenant key made: S3 (aiobotocore) and HTTP (fsspec over aiohttp) connect only where
the egress policy allows, checked at the socket (after name resolution), so a name resolving to
loopback is refused too; protocols the policy cannot hold are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.egress import EgressPolicy
from shared.errors import EgressRefused, FileNotFound, InvalidArgument, StorageUnreachable
from shared.storage import FsspecStorage
from tests.support.listener import Listener

pytest.importorskip("s3fs")

CREDENTIALS = {"key": "k", "secret": "s" * 20, "region": "us-east-1"}


@pytest.fixture
def listener() -> Iterator[Listener]:
    victim = Listener().start()
    yield victim
    victim.stop()


async def test_an_endpoint_named_by_a_name_that_resolves_to_loopback_is_refused_at_connect(
        listener: Listener) -> None:
    """SSRF through S3 endpoint_url with a host name (no early check sees it as an address):
    the socket factory refuses 127.0.0.1 as aiohttp is about to connect; nothing arrives."""
    storage = FsspecStorage("s3", "bucket", {**CREDENTIALS, "endpoint_url": f"http://localhost:{listener.port}"},
                            egress=EgressPolicy())
    with pytest.raises(StorageUnreachable, match=r"egress refused: '127\.0\.0\.1' is a loopback address"):
        await storage.check_reachable(timeout_s=20)
    assert listener.touched == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254"])
def test_an_endpoint_at_an_internal_ip_literal_is_refused_when_opened(host: str) -> None:
    """SSRF through S3 endpoint_url given as an address: refused before any client exists."""
    with pytest.raises(EgressRefused):
        FsspecStorage("s3", "bucket", {**CREDENTIALS, "endpoint_url": f"http://{host}:9000"}, egress=EgressPolicy())


def test_an_endpoint_with_credentials_in_the_url_is_refused() -> None:
    with pytest.raises(EgressRefused, match="user:password@"):
        FsspecStorage("s3", "bucket", {**CREDENTIALS, "endpoint_url": "http://a:b@s3.example.com"},
                      egress=EgressPolicy())


async def test_the_operators_storage_is_not_restricted(listener: Listener) -> None:
    """The same endpoint without a policy (an admin's storage) is reached: the refusal above is
    the policy's doing, not a broken endpoint."""
    storage = FsspecStorage("s3", "bucket", {**CREDENTIALS, "endpoint_url": f"http://localhost:{listener.port}"}, egress=None)
    with pytest.raises(StorageUnreachable):  # the listener is no S3 server
        await storage.check_reachable(timeout_s=20)
    assert listener.requests


async def test_an_http_storage_whose_name_resolves_to_loopback_never_connects(listener: Listener) -> None:
    """SSRF through an http(s) storage root: fsspec's aiohttp session checks each address."""
    storage = FsspecStorage("http", f"http://localhost:{listener.port}/files", egress=EgressPolicy())
    # fsspec's HTTP info() reports any failure as a missing file (or, asked about the root first,
    # a missing root): what matters is that nothing connected.
    with pytest.raises((FileNotFound, StorageUnreachable)):
        await storage.stat("a.txt")
    assert listener.touched == 0


def test_an_http_storage_at_an_internal_ip_literal_is_refused_when_opened() -> None:
    with pytest.raises(EgressRefused, match="link-local"):
        FsspecStorage("http", "http://169.254.169.254/latest/meta-data", egress=EgressPolicy())


async def test_the_operators_http_storage_is_not_restricted(listener: Listener) -> None:
    storage = FsspecStorage("http", f"http://localhost:{listener.port}/files", egress=None)
    try:
        await storage.stat("a.txt")
    except Exception:  # noqa: BLE001  (the listener is no file server; that it was asked is the point)
        pass
    assert listener.requests


@pytest.mark.parametrize("protocol", ["gcs", "ftp", "sftp", "webdav", "abfs"])
def test_protocols_the_policy_cannot_hold_are_refused_for_tenants(protocol: str) -> None:
    """A network protocol whose connections bypass the policy (gcsfs endpoint_url, ftp hosts...)."""
    with pytest.raises(InvalidArgument, match="cannot be held to the egress policy"):
        FsspecStorage(protocol, "bucket/x", {}, egress=EgressPolicy())
