"""Starting and stopping the bridge's services and worker with the edge app."""

from __future__ import annotations

import logging

from quart import Quart

from edge.bridge.services import EXTENSION, AppPool, BridgeServices
from edge.bridge.wopi_client import BridgeWopiClient
from edge.bridge.worker import BridgeWorker
from edge.control_client import ControlClient
from edge.settings import EdgeSettings
from shared.egress import EgressPolicy

WORKER = "wopi_proxy_bridge_worker"


def own_url(host: str, port: int) -> str:
    """This edge as its own bridge worker reaches it (a wildcard address through loopback)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def start(app: Quart, settings: EdgeSettings, control: ControlClient) -> None:
    # httpx logs every request at INFO: the worker's polls would flood the log (our own lines say
    # what matters, and never a URL that could carry a capability).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    wopi_url = settings.bridge_wopi_url or own_url(settings.host, settings.port)
    services = BridgeServices(control=control, wopi=BridgeWopiClient(wopi_url),
                              apps=AppPool(EgressPolicy(allow=settings.egress_allow)),
                              max_file_size=settings.max_file_size)
    app.extensions[EXTENSION] = services
    if settings.bridge_worker:
        worker = BridgeWorker(services, name=settings.bridge_worker_name)
        worker.start()
        app.extensions[WORKER] = worker


async def stop_worker(app: Quart) -> None:
    """Lets the saves in flight finish (bounded) while the edge still serves their PutFiles."""
    worker: BridgeWorker | None = app.extensions.get(WORKER)
    if worker is not None:
        await worker.stop()


async def stop(app: Quart) -> None:
    await stop_worker(app)
    services: BridgeServices | None = app.extensions.pop(EXTENSION, None)
    if services is not None:
        await services.aclose()
