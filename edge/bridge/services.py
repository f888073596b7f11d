"""What the bridge's routes, host page and worker share in one edge process: the control client,
the WOPI client, the apps (one client per app instance, kept alive) and the worker's wake-up."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import httpx
from quart import current_app
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.bridge.apps import app_kind
from edge.bridge.apps.base import AppRefused, BridgedApp
from edge.bridge.wopi_client import BridgeWopiClient
from edge.control_client import ControlClient
from shared.egress import EgressPolicy
from shared.egress_http import restricted_client
from shared.outbound_tls import verifying_context

log = logging.getLogger(__name__)

APP_TIMEOUT_S = 15.0
MAX_APPS = 256  # app instances kept with an open client; the least recently used one is closed
EXTENSION = "wopi_proxy_bridge"


class AppPool:
    """One BridgedApp per app row and credentials, with its own HTTP client: a tenant's own app
    (egress_restricted) gets a client held to the egress policy, like tenants' other URLs."""

    def __init__(self, egress: EgressPolicy) -> None:
        self._egress = egress
        self._apps: OrderedDict[tuple[str, ...], tuple[BridgedApp, httpx.AsyncClient]] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()  # evicted apps being closed (held: not collected)

    def get(self, app: edge_pb.BridgeApp) -> BridgedApp:
        """AppRefused for a kind this edge does not know."""
        kind = app_kind(app.kind)
        if kind is None:
            raise AppRefused(f"this edge does not know bridged apps of kind {app.kind!r}")
        secrets = hashlib.sha256(f"{app.api_key}\0{app.webhook_secret}".encode()).hexdigest()
        key = (str(app.editor_id), app.kind, app.url, app.public_url, secrets, str(app.egress_restricted))
        held = self._apps.get(key)
        if held is None:
            http = (restricted_client(self._egress, timeout_s=APP_TIMEOUT_S) if app.egress_restricted
                    else httpx.AsyncClient(timeout=APP_TIMEOUT_S, trust_env=False, follow_redirects=False,
                                      verify=verifying_context(trust_env=False)))
            held = (kind.create(app, http), http)
            self._apps[key] = held
            while len(self._apps) > MAX_APPS:
                _, (old, old_http) = self._apps.popitem(last=False)
                task = asyncio.get_running_loop().create_task(_close(old, old_http))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        self._apps.move_to_end(key)
        return held[0]

    async def aclose(self) -> None:
        apps, self._apps = list(self._apps.values()), OrderedDict()
        await asyncio.gather(*(_close(app, http) for app, http in apps), *self._closing, return_exceptions=True)


async def _close(app: BridgedApp, http: httpx.AsyncClient) -> None:
    try:
        await app.aclose()
    finally:
        await http.aclose()


@dataclass
class BridgeServices:
    control: ControlClient
    wopi: BridgeWopiClient
    apps: AppPool
    max_file_size: int  # the edge's default upload limit: caps a Hocuspocus webhook body
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)
    # Webhook bodies over MAX_EVENT_BYTES being read now (edge/bridge/routes.py: at most
    # MAX_LARGE_BODIES at once, each held whole, unsigned until the control plane has it).
    large_bodies: int = 0

    def wake(self) -> None:
        """Due work may be waiting (an app reported a change): the worker claims at once."""
        self.wake_event.set()

    async def aclose(self) -> None:
        await self.apps.aclose()
        await self.wopi.aclose()


def bridge_services() -> BridgeServices:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
