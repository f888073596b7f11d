"""The bridge as a WOPI client of an edge (its own by default): GetFile and PutFile over HTTP.

Going through the full WOPI path is the point: lock checks, versions, conflict copies, size
limits and the audit apply to the bridge's saves exactly as to any editor's. The bridge token
travels in the Authorization header (the edge accepts it there), never in a URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote

import httpx

from shared.outbound_tls import verifying_context

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
# Largest file the bridge opens as text (apps keep the whole text in memory and in every browser).
MAX_TEXT_BYTES = 8 << 20
CONFLICT_COPY_HEADER = "X-WopiProxy-Conflict-Copy"  # edge/wopi/errors.py: where a refused body was kept


class WopiUnavailable(Exception):
    """Transient: the edge did not answer, or answered 5xx/429/423 (retry later)."""


class WopiRefused(Exception):
    """The edge refused the request for good: `status` says why (401, 404, 412, 413, ...)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class FileBytes:
    data: bytes
    version: int  # the control plane's counter (X-WOPI-ItemVersion "<counter>-<fingerprint>")


@dataclass(frozen=True)
class PutOutcome:
    """SAVED (version set) or CONFLICT (409: the edge kept the body as a copy)."""

    saved: bool
    version: int = 0
    conflict_path: str = ""
    detail: str = ""


def _counter(item_version: str) -> int:
    head = item_version.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _detail(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return reply.reason_phrase
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:300]
    return ""


class BridgeWopiClient:
    """WOPI calls on `base_url` (an edge's URL, without /wopi)."""

    def __init__(self, base_url: str, *, editor: str = "wopi-proxy-bridge", timeout_s: float = TIMEOUT_S) -> None:
        self._base = base_url.rstrip("/")
        self._editor = editor
        # trust_env=False: the edge is ours; a proxy from the environment must not see tokens.
        self._http = httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False,
                                       verify=verifying_context(trust_env=False))

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, token: str, kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "X-WOPI-RequestingApplication": f"{self._editor}/{kind}"}

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            reply = await self._http.send(request)
        except httpx.TimeoutException:
            raise WopiUnavailable("the edge did not answer in time") from None
        except httpx.TransportError as error:
            raise WopiUnavailable(f"the edge is unreachable ({type(error).__name__})") from None
        if reply.status_code >= 500 or reply.status_code in (423, 429):
            raise WopiUnavailable(f"HTTP {reply.status_code}: {_detail(reply)}")
        return reply

    async def get_file(self, file_id: str, token: str, *, kind: str, max_bytes: int = MAX_TEXT_BYTES) -> FileBytes:
        """The file's bytes; WopiRefused(412) when larger than max_bytes."""
        headers = {**self._headers(token, kind), "X-WOPI-MaxExpectedSize": str(max_bytes)}
        reply = await self._send(self._http.build_request("GET", f"{self._base}/wopi/files/{file_id}/contents",
                                                          headers=headers))
        if reply.status_code != 200:
            raise WopiRefused(reply.status_code, _detail(reply))
        if len(reply.content) > max_bytes:
            raise WopiRefused(412, "file too large")
        return FileBytes(data=reply.content, version=_counter(reply.headers.get("X-WOPI-ItemVersion", "")))

    async def put_file(self, file_id: str, token: str, data: bytes, *, kind: str, lock_id: str,
                       editors: list[str]) -> PutOutcome:
        """PutFile under the document's lock; 409 is a conflict (the edge kept the bytes as a copy),
        other refusals raise WopiRefused, transient trouble WopiUnavailable."""
        headers = {**self._headers(token, kind), "X-WOPI-Override": "PUT", "X-WOPI-Lock": lock_id,
                   "Content-Type": "application/octet-stream"}
        if editors:
            headers["X-WOPI-Editors"] = ",".join(editors)[:1000]
        reply = await self._send(self._http.build_request("POST", f"{self._base}/wopi/files/{file_id}/contents",
                                                          headers=headers, content=data))
        if reply.status_code == 200:
            return PutOutcome(saved=True, version=_counter(reply.headers.get("X-WOPI-ItemVersion", "")))
        if reply.status_code == 409:
            return PutOutcome(saved=False, conflict_path=unquote(reply.headers.get(CONFLICT_COPY_HEADER, "")),
                              detail=reply.headers.get("X-WOPI-LockFailureReason", "") or _detail(reply))
        raise WopiRefused(reply.status_code, _detail(reply))
