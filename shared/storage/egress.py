"""A tenant's storage held to the egress policy (shared/egress.py): its connections reach
only addresses the policy allows, whatever its endpoint names and however that resolves.

S3 (aiobotocore) and HTTP (fsspec's HTTPFileSystem) both connect through aiohttp, whose
TCPConnector hands the address it is about to connect to (resolved names and IP literals
alike, redirect hops and proxies included) to a socket factory: the policy's check runs
there, on what is connected to, so a name that resolves elsewhere a second time (DNS
rebinding) gains nothing. Endpoints given as IP literals are also refused at once, with the
reason. A protocol whose connections cannot be held to the policy is refused for tenants.
"""

from __future__ import annotations

import functools
from typing import Any

from shared.egress import EgressPolicy
from shared.errors import InvalidArgument
from shared.storage.options import S3_PROTOCOLS

__all__ = ["HTTP_PROTOCOLS", "LOCAL_PROTOCOLS", "restrict"]

# No network at all (a tenant's local roots are confined to operator-given bases elsewhere).
LOCAL_PROTOCOLS = frozenset({"file", "local", "memory"})
HTTP_PROTOCOLS = frozenset({"http", "https"})


def restrict(protocol: str, root: str, kwargs: dict[str, Any], egress: EgressPolicy) -> None:
    """Changes fsspec keyword arguments so that every connection passes `egress`; raises
    EgressRefused (an endpoint the policy refuses) or InvalidArgument (a protocol it cannot hold)."""
    if protocol in LOCAL_PROTOCOLS:
        return
    if protocol in S3_PROTOCOLS:
        endpoint = kwargs.get("client_kwargs", {}).get("endpoint_url")
        if endpoint is not None:
            egress.check_url_literal(str(endpoint))
        config = kwargs.setdefault("config_kwargs", {})
        config["connector_args"] = {**config.get("connector_args", {}), "socket_factory": egress.socket_factory}
        # No proxy from the environment (HTTP(S)_PROXY): through a proxy the address checked would
        # be the proxy's, and the target, which the proxy resolves and reaches, would go unchecked.
        # botocore reads the environment only when `proxies` is None: an empty mapping is "none".
        config["proxies"] = {}
        return
    if protocol in HTTP_PROTOCOLS:
        egress.check_url_literal(root)
        kwargs["get_client"] = functools.partial(_http_client, egress)
        return
    raise InvalidArgument("protocol", f"a storage made with a tenant key cannot use {protocol!r}: its connections "
                                      f"cannot be held to the egress policy (an admin key can create it)")


async def _http_client(egress: EgressPolicy, **kwargs: Any) -> Any:
    """HTTPFileSystem's get_client: its aiohttp session, connecting through the policy, no
    proxy from the environment (the proxy would be checked, not the target)."""
    import aiohttp

    kwargs.pop("connector", None)
    kwargs["trust_env"] = False
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=egress.socket_factory), **kwargs)
