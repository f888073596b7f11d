"""The egress policy's decisions (which addresses a tenant's URL may reach) and the httpx client
that connects only where the policy allows, against a real listener on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import httpx
import pytest

from shared.egress import EgressPolicy, parse_networks
from shared.egress_http import restricted_client
from shared.errors import EgressRefused
from tests.support.listener import Listener

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address"),  # cloud metadata services
    ("fe80::1", "a link-local address"),
    ("100.64.0.1", "a carrier-grade NAT (shared) address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "the unspecified address"),
    ("::", "the unspecified address"),
    ("255.255.255.255", "the broadcast address"),
    ("240.0.0.1", "a reserved address"),
    ("fc00::1", "a unique-local address"),
    ("fd12:3456::1", "a unique-local address"),
    ("fec0::1", "a site-local address"),
    ("192.0.2.7", "a private address"),  # documentation (TEST-NET-1)
    ("::ffff:127.0.0.1", "the IPv4-mapped form of a loopback address"),
    ("::ffff:10.0.0.1", "the IPv4-mapped form of a private address"),
    ("::127.0.0.1", "the IPv4-compatible form of a loopback address"),
    ("::ffff:0:127.0.0.1", "the IPv4-translated form of a loopback address"),
    ("2002:7f00:1::", "the 6to4 form of a loopback address"),
    ("2002:a9fe:a9fe::", "the 6to4 form of a link-local address"),
    ("64:ff9b::127.0.0.1", "the NAT64 form of a loopback address"),
    ("64:ff9b::169.254.169.254", "the NAT64 form of a link-local address"),
    ("64:ff9b:1::1", "a local-use NAT64 address"),
    ("2001::1", "a private address"),  # Teredo: its client address is obfuscated, never trusted
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_internal_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    """SSRF to the deployment's own network: every non-public address class is refused, named."""
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_an_operator_exception_opens_exactly_its_network() -> None:
    policy = EgressPolicy(allow=parse_networks(["10.20.0.0/16, 127.0.0.2/32", "fd00::/8"]))
    assert policy.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.20.3.4")) is None  # the same host, mapped
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) is None
    assert policy.refusal(ipaddress.ip_address("fd00::5")) is None
    assert policy.refusal(ipaddress.ip_address("10.21.0.1")) == "a private address"
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) == "a loopback address"


def test_a_malformed_cidr_is_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not an IP network"):
        parse_networks(["10.0.0.0/8,10.0.0.300/8"])


@pytest.mark.parametrize(("url", "message"), [
    ("http://user:pass@example.com/", "user:password@"),
    ("http://user@example.com/", "user:password@"),
    ("file:///etc/passwd", "not an http"),
    ("gopher://example.com/", "not an http"),
    ("http:///path", "not an http"),
    ("http://example.com:99999999/", "not a valid URL"),
])
def test_urls_from_tenants_are_http_without_credentials(url: str, message: str) -> None:
    """Credentials in a tenant's URL (sent to whatever host follows) and non-HTTP schemes."""
    with pytest.raises(EgressRefused, match=message):
        EgressPolicy().check_url(url)


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f.0.0.1", "127.1", "017700000001"])
async def test_names_and_odd_ip_spellings_are_judged_by_the_address_they_resolve_to(host: str) -> None:
    """SSRF through a name or a decimal/hex/octal spelling of 127.0.0.1: the resolved address decides."""
    with pytest.raises(EgressRefused, match=r"resolves to a loopback address \(127\.0\.0\.1\)"):
        await EgressPolicy().resolve(host, 80)


def test_the_socket_factory_refuses_before_connecting() -> None:
    """aiohttp's last step before connect(): a refused address never gets a socket."""
    info = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 9))
    with pytest.raises(EgressRefused, match="'127.0.0.1' is a loopback address"):
        EgressPolicy().socket_factory(info)
    allowed = EgressPolicy(allow=parse_networks(["127.0.0.0/8"])).socket_factory(info)
    allowed.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    victim = Listener().start()
    yield victim
    victim.stop()


@pytest.mark.parametrize("target", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "2130706433"])
async def test_the_restricted_client_never_connects_to_loopback(listener: Listener, target: str) -> None:
    """SSRF via httpx: whatever the spelling, the listener on loopback sees no connection."""
    if target == "[::1]" and not listener.has_ipv6:
        pytest.skip("no IPv6 loopback on this machine")
    async with restricted_client(EgressPolicy(), timeout_s=5) as client:
        with pytest.raises(EgressRefused):
            await client.get(f"http://{target}:{listener.port}/")
    assert listener.touched == 0


async def test_the_restricted_client_connects_inside_an_operator_exception(listener: Listener) -> None:
    async with restricted_client(EgressPolicy(allow=parse_networks(["127.0.0.1/32"])), timeout_s=5) as client:
        reply = await client.get(f"http://localhost:{listener.port}/x", headers={"Host": "ignored.example"})
    assert reply.status_code == 200
    assert listener.requests == ["GET /x"]


async def test_the_restricted_client_ignores_proxies_from_the_environment(
        listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would be the address connected to, leaving the target unchecked."""
    monkeypatch.setenv("HTTP_PROXY", "http://203.0.113.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://203.0.113.1:3128")
    async with restricted_client(EgressPolicy(allow=parse_networks(["127.0.0.1/32"])), timeout_s=5) as client:
        reply = await client.get(f"{listener.url}/direct")
    assert reply.status_code == 200


async def test_the_connection_goes_to_the_checked_address_not_a_second_resolution(
        listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name is resolved once; httpx never resolves it again to connect."""
    import asyncio

    calls: list[str] = []
    real = asyncio.get_running_loop().getaddrinfo

    async def rebinding(host: object, port: object, *args: object, **kwargs: object) -> object:
        calls.append(str(host))
        if host == "rebind.test":  # first answer: an allowed address (TEST-NET-3, nothing there)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.9", port))]
        return await real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", rebinding)
    socket_getaddrinfo = socket.getaddrinfo

    def second_resolution(host: object, *args: object, **kwargs: object) -> object:
        if host == "rebind.test":  # what a rebinding DNS answers the second time
            return socket_getaddrinfo("127.0.0.1", *args, **kwargs)  # type: ignore[arg-type]
        return socket_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", second_resolution)
    policy = EgressPolicy(allow=parse_networks(["203.0.113.0/24"]))  # stands for a public network
    async with restricted_client(policy, timeout_s=1) as client:
        with pytest.raises(httpx.HTTPError):  # 203.0.113.9 does not answer
            await client.get(f"http://rebind.test:{listener.port}/")
    assert calls.count("rebind.test") == 1
    assert listener.touched == 0


async def test_a_name_that_does_not_resolve_is_a_connection_error_not_a_refusal() -> None:
    async with restricted_client(EgressPolicy(), timeout_s=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://no-such-host.invalid/")
