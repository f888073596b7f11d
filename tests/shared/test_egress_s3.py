"""S3 storages a tenant key made: aiobotocore connects only where the egress policy allows,
checked at the socket (after name resolution), so a name resolving to loopback is refused too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.egress import EgressPolicy
from shared.errors import EgressRefused, StorageUnreachable
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
    storage = FsspecStorage("s3", "bucket", {**CREDENTIALS, "endpoint_url": f"http://localhost:{listener.port}"})
    with pytest.raises(StorageUnreachable):  # the listener is no S3 server
        await storage.check_reachable(timeout_s=20)
    assert listener.requests
