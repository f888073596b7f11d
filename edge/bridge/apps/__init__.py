"""One module per bridged app kind, each implementing edge.bridge.apps.base.BridgedApp, and the
registry of kinds: how to make the app, where a browser enters it, and (for apps that call us
with webhooks) what the edge answers once the control plane accepted a signed request.

A kind is added with one entry in KINDS; its modules are imported only when that kind is used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

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


def _hocuspocus(app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> BridgedApp:
    from edge.bridge.apps.hocuspocus import HocuspocusApp
    return HocuspocusApp(app, http)


def _hocuspocus_entry(app: edge_pb.BridgeApp, code: str, entry: Entry) -> str:
    """Hocuspocus has no page of its own: public_url is the editor page the operator serves (a
    CodeMirror + y-codemirror + @hocuspocus/provider page). It gets the document name and the entry
    code (the provider's token, redeemed by our connect webhook) in the fragment, which browsers
    never send to a server nor put in a Referer."""
    page = (app.public_url or app.url).split("#", 1)[0]
    return f"{page}#{urlencode({'document': entry.target, 'token': code})}"


async def _hocuspocus_webhook(call: WebhookCall) -> Response | None:
    from edge.bridge.hocuspocus_webhook import answer
    return await answer(call)


def _codimd(app: edge_pb.BridgeApp, http: httpx.AsyncClient) -> BridgedApp:
    from edge.bridge.apps.codimd import CodimdApp
    return CodimdApp(app, http)


def _codimd_entry(app: edge_pb.BridgeApp, code: str, entry: Entry) -> str:
    """The note (`<id>`) or its published view (`s/<shortid>`) for read-only users. CodiMD has no
    per-user session: the code is not needed (the note id is the key, known to writers only)."""
    return f"{(app.public_url or app.url).rstrip('/')}/{quote(entry.target, safe='/')}"


KINDS: dict[str, AppKind] = {
    "etherpad": AppKind(create=_etherpad, entry_url=_etherpad_entry),
    "hocuspocus": AppKind(create=_hocuspocus, entry_url=_hocuspocus_entry, webhook=_hocuspocus_webhook),
    "codimd": AppKind(create=_codimd, entry_url=_codimd_entry),
}


def app_kind(kind: str) -> AppKind | None:
    return KINDS.get(kind)
