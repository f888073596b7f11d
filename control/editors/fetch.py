"""Fetching an editor's discovery document (parsing is discovery.py's job).

The body is read as a stream and refused as soon as it passes max_bytes, so a misconfigured
or hostile URL cannot make the control plane buffer an arbitrary download; the whole exchange
(connect, headers, redirects, body) has one deadline, so a server dripping bytes cannot hold
it either. Compressed bodies are decoded here, in bounded steps, and capped after decoding:
a gzip bomb costs no more than max_bytes (httpx's own decoders inflate each network chunk
whole, a thousandfold for gzip). Only gzip and deflate are asked for and accepted.

Redirects are followed here, hop by hop (at most max_redirects), each hop an http(s) URL;
with an egress policy (URLs set by a tenant key) every hop passes its URL checks too, and the
client's transport checks every address connected to (shared/egress_http.py).

Errors say what went wrong with a status code or a fixed reason, never with bytes of the
answer: a tenant must not read the deployment's own services through our error messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from control.editors.discovery import DiscoveryError
from shared.bounded_body import UnreadableBody, read_capped
from shared.egress import EgressPolicy

__all__ = ["MAX_BYTES", "MAX_REDIRECTS", "TIMEOUT_S", "fetch_discovery"]

MAX_BYTES = 5 * 1024 * 1024  # generous: Microsoft's test-environment document is about 105 KiB
TIMEOUT_S = 15.0
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


async def fetch_discovery(url: str, client: httpx.AsyncClient, *, max_bytes: int = MAX_BYTES,
                          timeout_s: float = TIMEOUT_S, max_redirects: int = MAX_REDIRECTS,
                          policy: EgressPolicy | None = None,
                          on_headers: Callable[[httpx.Headers], None] | None = None) -> bytes:
    """GETs a discovery document; raises DiscoveryError saying why it could not, or
    EgressRefused when `policy` refuses the URL, a redirect's target or an address. on_headers sees
    the final reply's headers as they arrive (the doctor reads the editor's clock from Date)."""
    _check_http_url(url, policy)
    try:
        async with asyncio.timeout(timeout_s):
            for _hop in range(max_redirects + 1):
                async with client.stream("GET", url, timeout=timeout_s, follow_redirects=False,
                                         headers={"Accept": "text/xml, application/xml",
                                                  "Accept-Encoding": "gzip, deflate"}) as response:
                    location = response.headers.get("Location", "")
                    if response.status_code in _REDIRECT_STATUSES and location:
                        url = _redirect_target(response.url, location, policy)
                        continue
                    if on_headers is not None:
                        on_headers(response.headers)
                    if response.status_code != 200:
                        raise DiscoveryError(f"HTTP status {response.status_code} from {url}")
                    body = await _read_body(response, max_bytes)
                    content_type = response.headers.get("Content-Type", "")
                    break
            else:
                raise DiscoveryError(f"more than {max_redirects} redirects")
    except TimeoutError:
        raise DiscoveryError(f"timed out after {timeout_s:g} s fetching {url}") from None
    except httpx.TimeoutException:
        raise DiscoveryError(f"timed out after {timeout_s:g} s fetching {url}") from None
    except httpx.HTTPError as error:
        # httpx's messages name the request and the failure, never the response body.
        raise DiscoveryError(f"request to {url} failed: {type(error).__name__}: {error}") from None
    _check_looks_like_xml(body, content_type)
    return body


def _check_http_url(url: str, policy: EgressPolicy | None) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DiscoveryError(f"discovery URL {url!r} is not an http(s) URL")
    if policy is not None:
        policy.check_url(url)


def _redirect_target(base: httpx.URL, location: str, policy: EgressPolicy | None) -> str:
    try:
        target = str(base.join(location))
    except httpx.InvalidURL:
        raise DiscoveryError("a redirect to an invalid URL") from None
    if urlsplit(target).scheme not in ("http", "https"):
        raise DiscoveryError("a redirect to a URL that is not http(s)")
    if policy is not None:
        policy.check_url(target)
    return target


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    try:
        return await read_capped(response, max_bytes)
    except UnreadableBody as error:
        raise DiscoveryError(error.message) from None


def _check_looks_like_xml(body: bytes, content_type: str) -> None:
    """A cheap check before parsing, for a clearer message when the URL serves something else
    (a login page in front of the editor, a JSON error, an empty 200). The messages never
    quote the body."""
    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:64].lower()
    if not start:
        raise DiscoveryError("not XML: the response body is empty")
    if "html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html")):
        raise DiscoveryError("not XML: the response is an HTML page")
    if not start.startswith(b"<"):
        raise DiscoveryError("not XML: the response does not start with '<'")
