"""Caps on the request bodies the edge receives at once (PutFile, PutRelativeFile), so that slow
uploads cannot use up its memory.

While its body arrives, an upload holds up to about 1.5 MiB of the edge (edge/streaming.py's
HIGH_WATER plus one STAGE_BLOCK_SIZE block of shared/storage/fsspec_storage.py; about 1.4 MiB
measured with local storage), and a client keeps one open for a byte per upload_idle_timeout_s.
So one access token may have at most `per_token` bodies arriving at once (an editor has one or
two saves in flight; the bridge one per document, each with its own token), one tenant at most
`per_tenant` (by default half of `total`: a tenant that mints many tokens cannot take every place,
and the other tenants always keep half), and the edge process at most `total`. Past a cap the
request is refused once granted (the grant names the tenant), before a byte of its body is read:
429 for the token or the tenant (TooManyUploads), 503 for the edge (UploadCapacityReached), all
with Retry-After. A slot is held while the body is staged, and released however that ends (saved,
refused, the client gone, the request cancelled). Each kind of refusal is logged at most once a
minute, with how many there were since.

Downloads (GetFile) have caps of their own, the same way (kind "downloads"): a reply with file
bytes holds a read buffer, a file descriptor and the socket's send buffer (about 2.4 MiB for a
large file) until its client has read it, so one token, one tenant and the edge may each have so
many on their way at once (TooManyDownloads 429, DownloadCapacityReached 503). Their slot is held
until the reply is sent or given up (edge.reply_guard).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.errors import DownloadCapacityReached, TooManyDownloads, TooManyUploads, UploadCapacityReached

DEFAULT_UPLOADS_PER_TOKEN = 4
DEFAULT_UPLOADS_TOTAL = 256
# An editor fetches a file once per open; 32 lets a benchmark's or a bridge's burst through while one
# token still cannot hold more than ~80 MiB.
DEFAULT_DOWNLOADS_PER_TOKEN = 32
DEFAULT_DOWNLOADS_TOTAL = 256
KINDS = ("uploads", "downloads")
CAPS = ("token", "tenant", "edge")
RETRY_AFTER_S = 5  # a save takes seconds: the editor's retry then usually finds a slot
REFUSAL_LOG_INTERVAL_S = 60.0

log = logging.getLogger(__name__)


def default_per_tenant(total: int) -> int:
    """Half of the edge's places (at least 1), none when the edge has no cap."""
    return max(1, total // 2) if total else 0


class UploadSlots:
    """Bodies being received, per token digest and in all; a cap of 0 is no cap."""

    def __init__(self, *, per_token: int = DEFAULT_UPLOADS_PER_TOKEN, total: int = DEFAULT_UPLOADS_TOTAL,
                 per_tenant: int | None = None, clock: Callable[[], float] = time.monotonic,
                 kind: str = "uploads") -> None:
        per_tenant = default_per_tenant(total) if per_tenant is None else per_tenant
        if per_token < 0 or total < 0 or per_tenant < 0:
            raise ValueError(f"{kind} caps must be 0 (no cap) or more")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.kind = kind
        self.per_token = per_token
        self.per_tenant = per_tenant
        self.total = total
        self._clock = clock
        self._held: dict[str, int] = {}  # token digest -> bodies arriving; only tokens holding one
        self._by_tenant: dict[str, int] = {}  # tenant id -> bodies arriving; only tenants holding one
        self._taken = 0
        self._refused = dict.fromkeys(CAPS, 0)  # since each kind was last logged
        self._logged = dict.fromkeys(CAPS, -REFUSAL_LOG_INTERVAL_S)
        self._refusals: Counter | None = None  # set by export_metrics

    @property
    def taken(self) -> int:
        return self._taken

    def export_metrics(self, registry: CollectorRegistry) -> None:
        """The transfers in progress (read at scrape time) and the refusals, by cap ("token", "tenant", "edge")."""
        what = ("Request bodies (PutFile, PutRelativeFile) the edge is receiving now." if self.kind == "uploads"
                else "Replies with file bytes (GetFile) the edge is sending now.")
        taken = Gauge(f"wopi_proxy_edge_{self.kind}_in_progress", what, registry=registry)
        taken.set_function(lambda: self._taken)
        self._refusals = Counter(f"wopi_proxy_edge_{self.kind}_refused",
                                 f"{self.kind.capitalize()} refused before any byte moved, by the cap reached: token "
                                 f"(429, --max-{self.kind}-per-token), tenant (429, --max-{self.kind}-per-tenant) or "
                                 f"edge (503, --max-{self.kind}).", ["cap"], registry=registry)
        for kind in CAPS:
            self._refusals.labels(kind)

    @contextmanager
    def slot(self, token_digest: str, tenant_id: str) -> Iterator[None]:
        """Held around receiving one body; raises before taking one when a cap is reached."""
        release = self.take(token_digest, tenant_id)
        try:
            yield
        finally:
            release()

    def take(self, token_digest: str, tenant_id: str) -> Callable[[], None]:
        """Takes a slot (raises when a cap is reached); returns its release, to be called once."""
        self._take(token_digest, tenant_id)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release(token_digest, tenant_id)

        return release

    def _take(self, token_digest: str, tenant_id: str) -> None:
        uploads = self.kind == "uploads"
        going = "arriving" if uploads else "on their way"
        held = self._held.get(token_digest, 0)
        if self.per_token and held >= self.per_token:
            self._refuse("token", f"an access token already has {held} {self.kind} {going} "
                                  f"(--max-{self.kind}-per-token {self.per_token})")
            raise (TooManyUploads if uploads else TooManyDownloads)(self.per_token, RETRY_AFTER_S)
        tenant_held = self._by_tenant.get(tenant_id, 0)
        if self.per_tenant and tenant_held >= self.per_tenant:
            self._refuse("tenant", f"tenant {tenant_id} already has {tenant_held} {self.kind} {going} "
                                   f"(--max-{self.kind}-per-tenant {self.per_tenant})")
            raise (TooManyUploads if uploads else TooManyDownloads)(self.per_tenant, RETRY_AFTER_S,
                                                                   holder="your organisation")
        if self.total and self._taken >= self.total:
            self._refuse("edge", f"the edge already {'receives' if uploads else 'sends'} {self._taken} {self.kind} "
                                 f"(--max-{self.kind} {self.total})")
            raise (UploadCapacityReached if uploads else DownloadCapacityReached)(self.total, RETRY_AFTER_S)
        self._held[token_digest] = held + 1
        self._by_tenant[tenant_id] = tenant_held + 1
        self._taken += 1

    def _release(self, token_digest: str, tenant_id: str) -> None:
        self._taken -= 1
        _count_down(self._held, token_digest)
        _count_down(self._by_tenant, tenant_id)

    def _refuse(self, kind: str, why: str) -> None:
        if self._refusals is not None:
            self._refusals.labels(kind).inc()
        self._refused[kind] += 1
        now = self._clock()
        if now - self._logged[kind] < REFUSAL_LOG_INTERVAL_S:
            return
        before = "upload refused before its body was read" if self.kind == "uploads" else \
            "download refused before the file was opened"
        log.warning("%s: %s; %d such refusals since this was last logged (at most once a minute)", before, why,
                    self._refused[kind])
        self._logged[kind], self._refused[kind] = now, 0


def _count_down(counts: dict[str, int], key: str) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
