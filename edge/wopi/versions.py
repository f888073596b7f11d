"""The WOPI Version string: the control plane's change counter plus the stored object's fingerprint.

The counter makes versions never repeat; the fingerprint makes them change even when the
file is modified in storage behind wopi-proxy's back.
"""

from __future__ import annotations

from edge.control_client import Grant
from edge.runtime import runtime
from shared.errors import FileNotFound
from shared.storage import FileStat


def item_version(counter: int, stat: FileStat) -> str:
    return f"{counter}-{stat.fingerprint}"


async def current_item_version(grant: Grant) -> str | None:
    """X-WOPI-ItemVersion for answers that do not read the bytes (lock operations)."""
    try:
        stat = await runtime().storages.get(grant.storage).stat(grant.path)
    except FileNotFound:
        return None
    return item_version(grant.version, stat)
