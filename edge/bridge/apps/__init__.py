"""One module per bridged app kind, each implementing edge.bridge.apps.base.BridgedApp, and the
registry of kinds: how to make the app, where a browser enters it, and (for apps that call us
with webhooks) what the edge answers once the control plane accepted a signed request.

A kind is added with one entry in KINDS; its modules are imported only when that kind is used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx

from edge.bridge.apps.base import BridgedApp, Entry
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

if TYPE_CHECKING:
    from quart import Response

    from edge.bridge.services import BridgeServices

# (the app's row, an HTTP client held to the app's egress policy) -> the app
AppFactory = Callable[[edge_pb.BridgeApp, httpx.AsyncClient], BridgedApp]
# (the app's row, the single-use entry code, the user's entry) -> where the browser goes
EntryUrl = Callable[[edge_pb.BridgeApp, str, Entry], str]


@dataclass(frozen=True)
class WebhookCall:
    """A signed webhook the control plane accepted (NoteBridgeEvent), for the kind's hook."""

    body: bytes
    reply: edge_pb.NoteBridgeEventResponse
    services: BridgeServices


# -> the answer to the app (None: 202 Accepted with no body)
WebhookHook = Callable[[WebhookCall], Awaitable["Response | None"]]


@dataclass(frozen=True)
class AppKind:
    create: AppFactory
    entry_url: EntryUrl
    webhook: WebhookHook | None = None  # /bridge/<kind>/webhook answers 202 without one


def _etherpad(app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> BridgedApp:
    from edge.bridge.apps.etherpad import EtherpadApp
    return EtherpadApp(app, http)


def _etherpad_entry(app: edge_pb.BridgeApp, code: str, entry: Entry) -> str:
    """Our plugin's route redeems the code server to server and sets Etherpad's session cookie."""
    return f"{(app.public_url or app.url).rstrip('/')}/wopi-proxy/enter?{urlencode({'code': code})}"


KINDS: dict[str, AppKind] = {
    "etherpad": AppKind(create=_etherpad, entry_url=_etherpad_entry),
}


def app_kind(kind: str) -> AppKind | None:
    return KINDS.get(kind)
