"""Where a process finds the control plane: one address, or several replicas.

`host:port` is handed to gRPC's DNS resolver, which balances over every address the name has
(a DNS name with several A records, e.g. a headless Kubernetes service). `a:1,b:2` lists the
replicas as IP literals (gRPC's `ipv4:`/`ipv6:` target syntax); names in such a list are refused
rather than resolved once at start, which would freeze today's addresses forever.
"""

from __future__ import annotations

import ipaddress

MAX_ADDRESSES = 64


def _split_host_port(address: str) -> tuple[str, str]:
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{address!r}: an IPv6 address is written [ADDRESS]:PORT")
        return host, rest[1:]
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{address!r}: expected HOST:PORT")
    return host, port


def control_target(addresses: str) -> str:
    """The gRPC target of `addresses` (one HOST:PORT, or IP:PORT,IP:PORT,...); ValueError saying
    what is wrong otherwise."""
    parts = [part.strip() for part in addresses.split(",")]
    if len(parts) == 1:
        if not parts[0]:
            raise ValueError("no control-plane address given")
        return parts[0]
    if len(parts) > MAX_ADDRESSES or not all(parts):
        raise ValueError(f"{addresses!r}: expected 1 to {MAX_ADDRESSES} addresses separated by commas")
    families = set()
    for part in parts:
        host, port = _split_host_port(part)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r}: the port must be a number from 1 to 65535")
        try:
            families.add(ipaddress.ip_address(host).version)
        except ValueError:
            raise ValueError(f"{part!r}: several control-plane addresses must be IP addresses; for names, "
                             "give one DNS name that resolves to every replica") from None
    if len(families) > 1:
        raise ValueError(f"{addresses!r}: list either IPv4 or IPv6 addresses, not both")
    return ("ipv4:" if families == {4} else "ipv6:") + ",".join(parts)
