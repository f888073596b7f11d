"""One HTTP call to a bridged app, its failures sorted into the BridgedApp error classes.

Transport trouble, timeouts, 5xx and 429 are AppUnavailable (retried with backoff, nothing lost);
an egress refusal (a tenant's app at an address the policy forbids) is AppRefused. Other statuses
are the caller's to judge. Details name the app and the operation, never a URL (a note id is a
capability in CodiMD) nor a key.
"""

from __future__ import annotations

from typing import Any

import httpx

from edge.bridge.apps.base import AppRefused, AppUnavailable
from shared.bounded_body import UnreadableBody, read_capped
from shared.errors import WopiProxyError

TIMEOUT_S = 10.0
# Largest answer read from an app: a document plus framing (apps hold whole texts).
MAX_ANSWER_BYTES = 40 << 20


async def call(http: httpx.AsyncClient, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
    """The app's answer (body read, at most MAX_ANSWER_BYTES), or AppUnavailable/AppRefused."""
    try:
        request = http.build_request(method, url, timeout=kwargs.pop("timeout", TIMEOUT_S), **kwargs)
        reply = await http.send(request, stream=True)
        try:
            content = await read_capped(reply, MAX_ANSWER_BYTES)  # decoded no further than the cap
        except UnreadableBody as error:
            raise AppRefused(f"{what}: answer {error.message}") from None
        finally:
            await reply.aclose()
        # The bytes read, already decoded: drop the headers that described the encoded body.
        headers = [(k, v) for k, v in reply.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(reply.status_code, headers=headers, content=content, request=request)
    except httpx.TimeoutException:
        raise AppUnavailable(f"{what}: timed out") from None
    except httpx.TransportError as error:
        raise AppUnavailable(f"{what}: {type(error).__name__}") from None
    except WopiProxyError as error:  # EgressRefused: a tenant's app at an internal address
        raise AppRefused(f"{what}: {error.message}") from None


def unavailable_if_transient(reply: httpx.Response, *, what: str) -> None:
    if reply.status_code >= 500 or reply.status_code == 429:
        raise AppUnavailable(f"{what}: HTTP {reply.status_code}")
