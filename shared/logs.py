"""Logging set-up: one line per event, key=value, readable by people and by log shippers.

Never pass an access token, an API key or file content to a logger.
"""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO") -> None:
    """Idempotent root logger set-up for the console script."""
    root = logging.getLogger()
    if getattr(root, "_wopi_proxy_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # gRPC's and Hypercorn's own chatter is noise at INFO.
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)
    root._wopi_proxy_configured = True  # type: ignore[attr-defined]
