"""An httpx client held to an EgressPolicy, with no window for DNS rebinding.

httpcore opens every connection through a network backend's connect_tcp(host, port). The
backend here resolves the host once, checks every address (shared/egress.py), and connects
to a checked address itself, so the name cannot resolve to something else between the check
and the connection. TLS is unchanged: httpcore starts it on that stream with the URL's host
name as SNI and verifies the certificate against the name. The Host header is the URL's.

Proxies from the environment are ignored (trust_env=False): through a proxy the address
connected to would be the proxy's, and the target would go unchecked.
"""

from __future__ import annotations

import typing

import httpcore
import httpx

from shared.egress import EgressPolicy
from shared.outbound_tls import verifying_context

__all__ = ["EgressBackend", "restricted_client"]


class EgressBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._policy.resolve(host, port)  # EgressRefused: nothing is connected
        except OSError as error:  # gaierror, TimeoutError: what httpcore itself reports as ConnectError
            raise httpcore.ConnectError(f"{host} does not resolve: {error}") from error
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not reachable under the egress policy")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _EgressTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: EgressPolicy) -> None:
        context = verifying_context(trust_env=False)
        super().__init__(verify=context, trust_env=False)
        # httpx builds its httpcore pool without a way to name the network backend: the pool
        # is rebuilt with httpx's defaults and ours (tests/shared/test_egress_http.py fails
        # should a new httpx stop routing requests through `_pool`).
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=EgressBackend(policy),
        )


def restricted_client(policy: EgressPolicy, *, timeout_s: float) -> httpx.AsyncClient:
    """A client for URLs a tenant key set: connections checked, no redirects followed (callers
    that follow them do it hop by hop, see control/editors/fetch.py), no proxy, no netrc."""
    return httpx.AsyncClient(transport=_EgressTransport(policy), timeout=timeout_s, follow_redirects=False,
                             trust_env=False)
