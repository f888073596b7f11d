"""The invalid-token flood limit: WOPI requests without a valid token are limited per client
address at the edge, so that a flood of made-up tokens never reaches the control plane's database.

Each address has a token bucket of BURST refusals refilled at LIMIT per minute. A refused token
(401 for its token: missing, unknown, expired, closed) takes one from its address's bucket; while
the bucket is empty, the address's WOPI requests are answered 429 with Retry-After, without a
control-plane call. Tokens that were granted recently (kept as SHA-256 digests only) pass anyway,
so a flood from behind a shared NAT does not stop the editors working there; other addresses are
never slowed. Memory is bounded: both tables are LRUs of fixed size (IPv6 addresses are grouped
by /64, the block one subscriber gets, so rotating through one's own prefix gains nothing).

The edge's own refusals (the 429s, and the 401s for requests with no token at all) are counted
per address and reported to the control plane every few seconds (ReportEdgeRefusals), where they
join its per-address, per-minute audit record of invalid tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

TRUSTED_TOKEN_TTL_S = 600.0
OVERFLOW_ADDRESS = "(other addresses)"


def address_key(address: str) -> str:
    """The unit a limit applies to: the IPv4 address, or the /64 network of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "-"
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def token_digest(token: str) -> str:
    """What the edge keeps of a token (here, and in edge.tenant_fairness): its SHA-256, in hex.
    A request's is computed once (edge.wopi.caller.request_token_digest)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RefusalCounts:
    rate_limited: int = 0
    missing_token: int = 0


class InvalidTokenLimiter:
    """Per-address token buckets of invalid-token refusals; `per_minute` 0 disables the limit."""

    def __init__(self, *, per_minute: int, burst: int, max_addresses: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.burst = max(1, burst)
        self._max = max(1, max_addresses)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._trusted: OrderedDict[str, float] = OrderedDict()  # token digest -> trusted until
        self._counts: dict[str, RefusalCounts] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def _refilled(self, key: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_minute / 60)
            bucket.updated = now
        return bucket

    def retry_after(self, address: str, digest: str) -> int | None:
        """Seconds the address must wait before its next request, or None when it may go on.
        `digest`: the request's token as token_digest() gives it ("" when none)."""
        if not self.enabled:
            return None
        now = self._clock()
        if digest and self._is_trusted(digest, now):
            return None
        bucket = self._refilled(address_key(address), now)
        if bucket is None or bucket.tokens >= 1:
            return None
        self._count(address).rate_limited += 1
        return max(1, math.ceil((1 - bucket.tokens) * 60 / self.per_minute))

    def refused(self, address: str, digest: str, *, checked_by_control: bool) -> None:
        """A request refused for its token; `checked_by_control` False when no token was sent."""
        if digest:
            self._trusted.pop(digest, None)
        if not checked_by_control:
            self._count(address).missing_token += 1
        if not self.enabled:
            return
        key, now = address_key(address), self._clock()
        bucket = self._refilled(key, now) or _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = max(0.0, bucket.tokens - 1)
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)

    def granted(self, digest: str) -> None:
        """A token the control plane accepted: its requests pass even from a limited address."""
        if not self.enabled or not digest:
            return
        self._trusted[digest] = self._clock() + TRUSTED_TOKEN_TTL_S
        self._trusted.move_to_end(digest)
        while len(self._trusted) > self._max:
            self._trusted.popitem(last=False)

    def _is_trusted(self, digest: str, now: float) -> bool:
        until = self._trusted.get(digest)
        return until is not None and until > now

    def _count(self, address: str) -> RefusalCounts:
        key = address[:64] or "-"
        if key not in self._counts and len(self._counts) >= self._max:
            key = OVERFLOW_ADDRESS
        return self._counts.setdefault(key, RefusalCounts())

    def take_counts(self) -> dict[str, RefusalCounts]:
        """The edge's own refusals since the last call, per address (for ReportEdgeRefusals)."""
        counts, self._counts = self._counts, {}
        return counts

    def give_back(self, counts: dict[str, RefusalCounts]) -> None:
        """Counts whose report failed: kept for the next report."""
        for address, value in counts.items():
            mine = self._count(address)
            mine.rate_limited += value.rate_limited
            mine.missing_token += value.missing_token


MAX_ENTRIES_PER_REPORT = 1000  # what ReportEdgeRefusals accepts at once


async def report_periodically(limiter: InvalidTokenLimiter,
                              report: Callable[[dict[str, RefusalCounts]], Awaitable[None]],
                              *, interval_s: float, stop: asyncio.Event) -> None:
    """Sends the edge's refusal counts every `interval_s` (and once more on stop)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass
        counts = limiter.take_counts()
        items = list(counts.items())
        for start in range(0, len(items), MAX_ENTRIES_PER_REPORT):
            batch = dict(items[start:start + MAX_ENTRIES_PER_REPORT])
            try:
                await report(batch)
            except Exception as error:  # the control plane is away: report these next time
                log.warning("reporting the edge's refusals failed: %s", error)
                limiter.give_back(dict(items[start:]))
                break
        if stop.is_set():
            return
