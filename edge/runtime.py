"""What every WOPI handler needs, held once per app (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from edge.control_client import ControlClient
from edge.settings import EdgeSettings
from edge.storage_pool import StoragePool
from edge.upload_slots import UploadSlots
from edge.wopi.flood import InvalidTokenLimiter


@dataclass
class EdgeRuntime:
    settings: EdgeSettings
    control: ControlClient
    storages: StoragePool
    flood: InvalidTokenLimiter
    uploads: UploadSlots
    downloads: UploadSlots  # replies with file bytes on their way (kind "downloads")


def runtime() -> EdgeRuntime:
    return current_app.extensions["wopi_proxy"]
