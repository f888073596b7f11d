"""The egress policy: which addresses a URL chosen by a tenant key may make us connect to.

A tenant key is attacker input (ARCHITECTURE.md, "Trust, failure and scale"): an editor's
discovery URL or an S3 endpoint it names must not turn the control plane or an edge into a
client of the deployment's own network (SSRF). The policy refuses every address that is not
a public unicast one (loopback, RFC 1918 private, link-local, CGNAT, multicast, unspecified,
reserved, IPv6 unique-local and site-local, and the IPv6 forms that carry one of those
IPv4 addresses: IPv4-mapped, -compatible, -translated, 6to4, NAT64), unless the operator
allows a network (`--egress-allow CIDR`).

What is checked is the address actually connected to, never a name: host names are
resolved once, every address is checked, and the connection goes to a checked address
(shared/egress_http.py for httpx, socket_factory() below for aiohttp/aiobotocore). A name
that resolves to a refused address and a public one is refused whole.

URLs the operator sets (admin keys, configuration) do not pass through here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any
from urllib.parse import SplitResult, urlsplit

from shared.errors import EgressRefused

__all__ = ["EgressPolicy", "EgressRefused", "IPNetwork", "parse_networks"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

SCHEMES = ("http", "https")
_BROADCAST = IPv4Address("255.255.255.255")
_CGNAT = IPv4Network("100.64.0.0/10")  # RFC 6598 shared address space
_UNIQUE_LOCAL = IPv6Network("fc00::/7")
_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the low 32 bits are IPv4
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use: a site's own translator
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated RFC 4291 form ::a.b.c.d
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # RFC 2765 SIIT ::ffff:0:a.b.c.d


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs from --egress-allow / WOPI_PROXY_EGRESS_ALLOW (comma separated); ValueError names the bad one."""
    networks: list[IPNetwork] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"--egress-allow: {part!r} is not an IP network (CIDR such as 10.0.0.0/8)") from None
    return tuple(networks)


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 form carries, and the form's name; None for a plain IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    low = IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return low, "NAT64"
    if address in _IPV4_TRANSLATED:
        return low, "IPv4-translated"
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1, which are themselves
        return low, "IPv4-compatible"
    return None


def _why_refused(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address ("a loopback address"), or None."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner, form = embedded
            why = _why_refused(inner)
            return f"the {form} form of {why}" if why else None
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT (shared) address"
    if isinstance(address, IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local address"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local address"
    if isinstance(address, IPv4Address) and address == _BROADCAST:
        return "the broadcast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a special-purpose (non-global) address"
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Public unicast addresses only, plus the operator's exceptions."""

    allow: tuple[IPNetwork, ...] = ()
    resolve_timeout_s: float = 10.0

    def allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allow):
            return True
        if isinstance(address, IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                return any(embedded[0] in network for network in self.allow)
        return False

    def refusal(self, address: IPAddress) -> str | None:
        """Why connecting to `address` is refused, or None when it is allowed."""
        if self.allowed(address):
            return None
        return _why_refused(address)

    def check_address(self, host: str, address: str) -> None:
        """Raises EgressRefused unless `address` (a literal, as connected to) may be used for `host`."""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise EgressRefused(host, f"resolves to {address!r}, which is not an IP address") from None
        why = self.refusal(parsed)
        if why is not None:
            shown = f" ({address})" if host.strip("[]") != address else ""
            raise EgressRefused(host, f"{'resolves to' if shown else 'is'} {why}{shown}")

    def check_url(self, url: str) -> SplitResult:
        """The checks that need no network: an http(s) URL with a host and no user:password@."""
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError:
            raise EgressRefused(url[:200], "is not a valid URL") from None
        if parts.scheme.lower() not in SCHEMES or not parts.hostname:
            raise EgressRefused(url[:200], "is not an http:// or https:// URL with a host")
        if "@" in parts.netloc:
            raise EgressRefused(parts.hostname, "a URL with user:password@ is not accepted from a tenant")
        return parts

    def check_url_literal(self, url: str) -> None:
        """check_url, and the host itself when it is an IP literal (no DNS: usable anywhere)."""
        parts = self.check_url(url)
        assert parts.hostname is not None
        try:
            ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked when resolved and connected to
        self.check_address(parts.hostname, parts.hostname)

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, every one checked; raises EgressRefused if any is refused,
        OSError (socket.gaierror, TimeoutError) when the name does not resolve: that is a
        connection failure like any other, not the policy's refusal.

        A name whose addresses mix public and internal ones is refused whole: connecting
        to "the public one" would let the next resolution pick the other."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError as error:  # a name IDNA cannot encode
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r} is not a valid host name") from error
        addresses: list[str] = []
        for _family, _type, _proto, _canonical, sockaddr in infos:
            address = str(sockaddr[0])
            self.check_address(host, address)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise EgressRefused(host, "resolves to no address")
        return addresses

    async def check_url_resolved(self, url: str) -> None:
        """check_url, then every address the host resolves to: the early, clear refusal of a
        request that names a refused target (the connection is checked again when made). A
        name that does not resolve passes: the connection attempt will report it."""
        parts = self.check_url(url)
        assert parts.hostname is not None
        try:
            await self.resolve(parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80))
        except OSError:
            return

    def socket_factory(self, addr_info: Sequence[Any]) -> socket.socket:
        """aiohttp's TCPConnector(socket_factory=...): called with the address about to be
        connected to (after resolution, IP literals included, which aiohttp's resolver never
        sees); refuses it before any socket exists.

        EgressRefused, not an OSError: botocore would retry a failed connection for seconds,
        while this passes through aiobotocore as HTTPClientError carrying the reason."""
        family, type_, proto, _canonical, sockaddr = addr_info
        self.check_address(str(sockaddr[0]), str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)
