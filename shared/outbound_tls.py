"""The TLS context every outbound HTTP client of a process verifies servers with.

Building one (loading certifi's CA bundle) costs ~50 ms of CPU; httpx builds a new one for each
client, and a process makes several (webhooks, discovery, the bridge's WOPI calls, each bridged
app). Verification settings are the same for all, so each process builds one per kind of trust:
`trust_env=True` honours SSL_CERT_FILE / SSL_CERT_DIR as httpx does, `False` is certifi's bundle
only (the clients that ignore the environment: egress-restricted ones and the bridge's)."""

from __future__ import annotations

import functools
import ssl

import httpx

__all__ = ["verifying_context"]


@functools.cache
def verifying_context(*, trust_env: bool) -> ssl.SSLContext:
    """Shared, so never to be changed by a caller (load_cert_chain, options): build your own then."""
    return httpx.create_ssl_context(trust_env=trust_env)
