"""Caps on the request bodies the edge receives at once (PutFile, PutRelativeFile), so that slow
uploads cannot use up its memory.

While its body arrives, an upload holds up to about 1.5 MiB of the edge (edge/streaming.py's
HIGH_WATER plus one STAGE_BLOCK_SIZE block of shared/storage/fsspec_storage.py; about 1.4 MiB
measured with local storage), and a client keeps one open for a byte per upload_idle_timeout_s.
So one access token may have at most `per_token` bodies arriving at once (an editor has one or
two saves in flight; the bridge one per document, each with its own token), and the edge process
at most `total`. Past a cap the request is refused once granted, before a byte of its body is
read: 429 for the token (TooManyUploads), 503 for the edge (UploadCapacityReached), both with
Retry-After. A slot is held while the body is staged, and released however that ends (saved,
refused, the client gone, the request cancelled). Each kind of refusal is logged at most once a
minute, with how many there were since.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.errors import TooManyUploads, UploadCapacityReached

DEFAULT_UPLOADS_PER_TOKEN = 4
DEFAULT_UPLOADS_TOTAL = 256
RETRY_AFTER_S = 5  # a save takes seconds: the editor's retry then usually finds a slot
REFUSAL_LOG_INTERVAL_S = 60.0

log = logging.getLogger(__name__)


class UploadSlots:
    """Bodies being received, per token digest and in all; a cap of 0 is no cap."""

    def __init__(self, *, per_token: int = DEFAULT_UPLOADS_PER_TOKEN, total: int = DEFAULT_UPLOADS_TOTAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_token < 0 or total < 0:
            raise ValueError("upload caps must be 0 (no cap) or more")
        self.per_token = per_token
        self.total = total
        self._clock = clock
        self._held: dict[str, int] = {}  # token digest -> bodies arriving; only tokens holding one
        self._taken = 0
        self._refused = {"token": 0, "edge": 0}  # since each kind was last logged
        self._logged = {"token": -REFUSAL_LOG_INTERVAL_S, "edge": -REFUSAL_LOG_INTERVAL_S}
        self._refusals: Counter | None = None  # set by export_metrics

    @property
    def taken(self) -> int:
        return self._taken

    def export_metrics(self, registry: CollectorRegistry) -> None:
        """The uploads being received (read at scrape time) and the refusals, by cap ("token", "edge")."""
        taken = Gauge("wopi_proxy_edge_uploads_in_progress",
                      "Request bodies (PutFile, PutRelativeFile) the edge is receiving now.", registry=registry)
        taken.set_function(lambda: self._taken)
        self._refusals = Counter("wopi_proxy_edge_uploads_refused",
                                 "Uploads refused before their body was read, by the cap reached: token (429, "
                                 "--max-uploads-per-token) or edge (503, --max-uploads).", ["cap"], registry=registry)
        for kind in ("token", "edge"):
            self._refusals.labels(kind)

    @contextmanager
    def slot(self, token_digest: str) -> Iterator[None]:
        """Held around receiving one body; raises before taking one when a cap is reached."""
        self._take(token_digest)
        try:
            yield
        finally:
            self._release(token_digest)

    def _take(self, token_digest: str) -> None:
        held = self._held.get(token_digest, 0)
        if self.per_token and held >= self.per_token:
            self._refuse("token", f"an access token already has {held} uploads arriving "
                                  f"(--max-uploads-per-token {self.per_token})")
            raise TooManyUploads(self.per_token, RETRY_AFTER_S)
        if self.total and self._taken >= self.total:
            self._refuse("edge", f"the edge already receives {self._taken} uploads "
                                 f"(--max-uploads {self.total})")
            raise UploadCapacityReached(self.total, RETRY_AFTER_S)
        self._held[token_digest] = held + 1
        self._taken += 1

    def _release(self, token_digest: str) -> None:
        self._taken -= 1
        held = self._held[token_digest] - 1
        if held:
            self._held[token_digest] = held
        else:
            del self._held[token_digest]

    def _refuse(self, kind: str, why: str) -> None:
        if self._refusals is not None:
            self._refusals.labels(kind).inc()
        self._refused[kind] += 1
        now = self._clock()
        if now - self._logged[kind] < REFUSAL_LOG_INTERVAL_S:
            return
        log.warning("upload refused before its body was read: %s; %d such refusals since this was last "
                    "logged (at most once a minute)", why, self._refused[kind])
        self._logged[kind], self._refused[kind] = now, 0
