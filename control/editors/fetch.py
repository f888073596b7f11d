"""Fetching an editor's discovery document (parsing is discovery.py's job).

The body is read as a stream and refused as soon as it passes max_bytes, so a misconfigured
or hostile URL cannot make the control plane buffer an arbitrary download; the whole exchange
(connect, headers, body) has one deadline, so a server dripping bytes cannot hold it either.
Redirects follow the client's own setting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from control.editors.discovery import DiscoveryError

__all__ = ["MAX_BYTES", "TIMEOUT_S", "fetch_discovery"]

MAX_BYTES = 5 * 1024 * 1024  # generous: Microsoft's test-environment document is about 105 KiB
TIMEOUT_S = 15.0


async def fetch_discovery(url: str, client: httpx.AsyncClient, *, max_bytes: int = MAX_BYTES,
                          timeout_s: float = TIMEOUT_S,
                          on_headers: Callable[[httpx.Headers], None] | None = None) -> bytes:
    """GETs a discovery document; raises DiscoveryError saying why it could not. on_headers sees
    the reply's headers as they arrive (the doctor reads the editor's clock from Date)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DiscoveryError(f"discovery URL {url!r} is not an http(s) URL")
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("GET", url, timeout=timeout_s,
                                     headers={"Accept": "text/xml, application/xml"}) as response:
                if on_headers is not None:
                    on_headers(response.headers)
                if response.status_code != 200:
                    raise DiscoveryError(f"HTTP status {response.status_code} from {url}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise DiscoveryError(f"too large: {declared} bytes declared, the limit is {max_bytes}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise DiscoveryError(f"too large: more than {max_bytes} bytes")
                content_type = response.headers.get("Content-Type", "")
    except TimeoutError:
        raise DiscoveryError(f"timed out after {timeout_s:g} s fetching {url}") from None
    except httpx.TimeoutException:
        raise DiscoveryError(f"timed out after {timeout_s:g} s fetching {url}") from None
    except httpx.HTTPError as error:
        raise DiscoveryError(f"request to {url} failed: {type(error).__name__}: {error}") from None
    _check_looks_like_xml(bytes(body), content_type)
    return bytes(body)


def _check_looks_like_xml(body: bytes, content_type: str) -> None:
    """A cheap check before parsing, for a clearer message when the URL serves something else
    (a login page in front of the editor, a JSON error, an empty 200)."""
    start = body.removeprefix(b"\xef\xbb\xbf").lstrip()[:64].lower()
    if not start:
        raise DiscoveryError("not XML: the response body is empty")
    if "html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html")):
        raise DiscoveryError("not XML: the response is an HTML page")
    if not start.startswith(b"<"):
        raise DiscoveryError(f"not XML: the response starts with {body[:20]!r}")
