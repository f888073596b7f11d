"""The WOPI Version string: the control plane's write counter plus the stored object's fingerprint.

The counter makes versions never repeat; the fingerprint makes them change even when the
file is modified in storage behind wopi-proxy's back.
"""

from __future__ import annotations

from shared.storage import FileStat


def item_version(counter: int, stat: FileStat) -> str:
    return f"{counter}-{stat.fingerprint}"
