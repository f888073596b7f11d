"""The one ISO-8601 format for times shown to editors.

Collabora compares LastModifiedTime strings byte for byte (X-COOL-WOPI-Timestamp), so
CheckFileInfo and the PutFile reply must come from this single formatter.
"""

from __future__ import annotations

import datetime as dt
import functools


@functools.lru_cache(maxsize=4096)
def iso_utc(epoch_seconds: float) -> str:
    """2026-11-22T10:04:05.123456Z: UTC, microseconds, always the same width. Cached: a file's
    time is formatted for every CheckFileInfo of it, and strftime was ~2 % of one."""
    stamp = dt.datetime.fromtimestamp(epoch_seconds, tz=dt.timezone.utc).replace(tzinfo=None)
    return stamp.isoformat(timespec="microseconds") + "Z"


def now_ms() -> int:
    """Milliseconds since the Unix epoch (WOPI's access_token_ttl unit)."""
    return int(dt.datetime.now(tz=dt.timezone.utc).timestamp() * 1000)
