"""WOPI discovery documents: parsing, choosing an action for a file, building its action URL.

No I/O here (fetch.py fetches). Sources: [MS-REST online/discovery] (the action URL rules quoted
below), ONLYOFFICE's wopiClient.js discovery(), Collabora's discovery.xml as coolwsd serves it.

The document is `wopi-discovery > net-zone(name) > app(name, favIconUrl) > action(name, ext,
default, requires, urlsrc)` plus one `proof-key` element. What differs by product:

* Microsoft 365 for the web / Office Online Server: apps named Word, Excel, PowerPoint, ...;
  urlsrc carries `<name=PLACEHOLDER&>` sections; edit actions say requires="locks,update"
  (OneNote's also "cobalt,containers", which this host does not implement).
* ONLYOFFICE Docs: the same MS-style apps (Word/Excel/PowerPoint/Pdf) with urlsrc
  `/hosting/wopi/{word|cell|slide|pdf|diagram}/{view|edit}?...`, and, for Nextcloud-style
  connectors, one app per MIME type with ext="" on its actions.
* Collabora Online: apps named writer/calc/impress/draw with `ext` on each action, and again
  one app per MIME type with ext=""; urlsrc is `.../browser/<hash>/cool.html?` with no
  placeholder at all (the hash changes per release, so the URL is never hard-coded). It
  advertises only `edit` for the formats it can edit: the editor opens read-only when
  CheckFileInfo says UserCanWrite=false (CollaboraOnline/online#13894).

Net zones: one document may describe several (an Office Online Server farm lists the same apps
under internal-* and external-*). The first zone present in ZONE_PREFERENCE order is used:
external-https, external-http, internal-https, internal-http; a zone with another or no name
comes last. Collabora and ONLYOFFICE publish a single zone (external-http by default).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from cryptography.hazmat.primitives.asymmetric import rsa

# defusedxml has no inline type hints (typeshed's types-defusedxml has them).
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser  # type: ignore[import-untyped]

__all__ = [
    "MAX_ELEMENTS",
    "ZONE_PREFERENCE",
    "Action",
    "Discovery",
    "DiscoveryError",
    "Product",
    "ProofKey",
    "action_url",
    "choose_action",
    "extensions",
    "parse_discovery",
]

Product = Literal["collabora", "onlyoffice", "microsoft", "other"]

# Elements a document may have. Why: a tenant's editor may serve any document up to fetch.py's
# MAX_BYTES, and 5 MiB of minimal <action/> elements parse into about 100,000 actions: a second of
# the control plane's event loop and some 50 MiB kept per parsed document. Real documents have a
# few hundred (Microsoft 365's 378, Collabora's 280); an Office Online Server farm that lists its
# apps under four zones, about 1,500.
MAX_ELEMENTS = 5000

ZONE_PREFERENCE = ("external-https", "external-http", "internal-https", "internal-http")

# The WOPI "requires" groups this host implements by default (Lock/RefreshLock/Unlock/
# UnlockAndRelock and PutFile/PutRelativeFile); not "cobalt" nor "containers".
DEFAULT_HOST_SUPPORTS = frozenset({"locks", "update"})


class DiscoveryError(ValueError):
    """A discovery document that cannot be used (or, from fetch.py, cannot be fetched)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- proof keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofKey:
    """An editor's RSA public key, as published in the discovery's proof-key element."""

    modulus: int
    exponent: int

    def public_key(self) -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(self.exponent, self.modulus).public_key()

    @classmethod
    def from_modulus_exponent(cls, modulus_b64: str, exponent_b64: str) -> ProofKey:
        """The `modulus`/`exponent` attributes: base64 of big-endian unsigned integers."""
        modulus = int.from_bytes(_b64(modulus_b64, "modulus"), "big")
        exponent = int.from_bytes(_b64(exponent_b64, "exponent"), "big")
        return cls._checked(modulus, exponent)

    @classmethod
    def from_csp_blob(cls, value_b64: str) -> ProofKey:
        """The `value` attribute: a .NET RSACryptoServiceProvider.ExportCspBlob(false), i.e. a
        CryptoAPI PUBLICKEYBLOB: BLOBHEADER (bType 0x06, bVersion 0x02, reserved, aiKeyAlg),
        RSAPUBKEY ('RSA1', bit length, public exponent), then the modulus little-endian."""
        blob = _b64(value_b64, "value")
        header = struct.Struct("<BBHI4sII")
        if len(blob) < header.size:
            raise DiscoveryError("proof-key value is too short for a PUBLICKEYBLOB")
        blob_type, version, _reserved, _algorithm, magic, bits, exponent = header.unpack_from(blob)
        if blob_type != 0x06 or version != 0x02 or magic != b"RSA1":
            raise DiscoveryError("proof-key value is not an RSA PUBLICKEYBLOB")
        length = (bits + 7) // 8
        modulus_le = blob[header.size:header.size + length]
        if len(modulus_le) != length:
            raise DiscoveryError("proof-key value is shorter than its declared key length")
        return cls._checked(int.from_bytes(modulus_le, "little"), exponent)

    @classmethod
    def _checked(cls, modulus: int, exponent: int) -> ProofKey:
        if modulus.bit_length() < 1024 or exponent < 3 or exponent % 2 == 0:
            raise DiscoveryError("proof-key is not a usable RSA public key")
        return cls(modulus=modulus, exponent=exponent)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DiscoveryError(f"proof-key {what} is not base64") from None


def _proof_key(element: Element, prefix: str) -> ProofKey | None:
    """The current (prefix "") or old (prefix "old") key; modulus/exponent win over value."""
    modulus = (element.get(f"{prefix}modulus") or "").strip()
    exponent = (element.get(f"{prefix}exponent") or "").strip()
    value = (element.get(f"{prefix}value") or "").strip()
    if modulus and exponent:
        return ProofKey.from_modulus_exponent(modulus, exponent)
    if value:
        return ProofKey.from_csp_blob(value)
    return None


# -- the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One `action` element: what an editor offers for one extension (or MIME-typed app)."""

    app: str  # the app's name: "Word", "writer", or a MIME type ("application/msword")
    name: str  # "view", "edit", "editnew", "embedview", "convert", "view_comment", ...
    ext: str  # lower case, no dot; "" on MIME-typed apps' actions
    urlsrc: str  # the template, placeholders included
    requires: frozenset[str] = frozenset()  # "locks", "update", "cobalt", "containers"
    default: bool = False
    zone: str = ""


@dataclass(frozen=True)
class Discovery:
    actions: tuple[Action, ...]  # of the chosen net-zone, in document order
    proof_key: ProofKey | None
    old_proof_key: ProofKey | None
    product: Product
    # App name -> favIconUrl (the host page's favicon while that app is open).
    favicons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def parse_discovery(xml: bytes) -> Discovery:
    """Parses a discovery document; raises DiscoveryError if it is not one or offers nothing.

    defusedxml refuses any DTD, so entity-expansion bombs and external entities fail fast; a
    document with more than MAX_ELEMENTS elements fails at the first one past it."""
    parser = DefusedXMLParser(target=_CappedTree(MAX_ELEMENTS), forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    try:
        parser.feed(xml.lstrip())
        root = parser.close()
    except DefusedXmlException as error:
        raise DiscoveryError(f"refused XML ({type(error).__name__}): discovery documents have no DTD"
                             ) from None
    except ParseError as error:
        raise DiscoveryError(f"not well-formed XML: {error}") from None
    if _local(root.tag) != "wopi-discovery":
        # The element's name is not repeated: an error never echoes what a server sent.
        raise DiscoveryError("the root element is not <wopi-discovery>")

    zones = [z for z in root if _local(z.tag) == "net-zone"]
    zones.sort(key=_zone_rank)  # stable: document order within a rank
    actions: list[Action] = []
    favicons: dict[str, str] = {}
    for zone in zones:
        actions, favicons = _zone_actions(zone)
        if actions:
            break
    if not actions:
        raise DiscoveryError("the document offers no action (no net-zone/app/action with a urlsrc)")

    proof_key = old_proof_key = None
    for element in root.iter():
        if _local(element.tag) == "proof-key":
            proof_key, old_proof_key = _proof_key(element, ""), _proof_key(element, "old")
            break
    return Discovery(actions=tuple(actions), proof_key=proof_key, old_proof_key=old_proof_key,
                     product=_product(actions), favicons=MappingProxyType(favicons))


class _CappedTree(TreeBuilder):
    """Builds the tree and stops the parse at the element past `limit`, before it is built."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = self._left = limit

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._left -= 1
        if self._left < 0:
            raise DiscoveryError(f"more than {self._limit} elements: real discovery documents have a few hundred")
        return super().start(tag, attrs)


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]  # without a namespace, should a producer add one


def _zone_rank(zone: Element) -> int:
    name = (zone.get("name") or "").strip().lower()
    return ZONE_PREFERENCE.index(name) if name in ZONE_PREFERENCE else len(ZONE_PREFERENCE)


def _zone_actions(zone: Element) -> tuple[list[Action], dict[str, str]]:
    zone_name = (zone.get("name") or "").strip().lower()
    actions: list[Action] = []
    favicons: dict[str, str] = {}
    for app in zone:
        if _local(app.tag) != "app":
            continue
        app_name = (app.get("name") or "").strip()
        favicon = (app.get("favIconUrl") or "").strip()
        if app_name and favicon:
            favicons.setdefault(app_name, favicon)
        for element in app:
            urlsrc = (element.get("urlsrc") or "").strip()
            name = (element.get("name") or "").strip()
            if _local(element.tag) != "action" or not urlsrc or not name:
                continue
            groups = (element.get("requires") or "").split(",")
            requires = frozenset(g.strip().lower() for g in groups if g.strip())
            actions.append(Action(app=app_name, name=name, ext=_normal_ext(element.get("ext") or ""),
                                  urlsrc=urlsrc, requires=requires,
                                  default=(element.get("default") or "").strip().lower() == "true",
                                  zone=zone_name))
    return actions, favicons


def _normal_ext(ext: str) -> str:
    return ext.strip().lstrip(".").lower()


def _product(actions: tuple[Action, ...] | list[Action]) -> Product:
    """Recognised by the document's shape, not by host names (deployments choose those)."""
    paths = [urlsplit(a.urlsrc).path.lower() for a in actions]
    if any("/hosting/wopi/" in p for p in paths):
        return "onlyoffice"  # wopiClient.js: ${baseUrl}/hosting/wopi/<documentType>/<mode>
    if any(p.endswith(("/cool.html", "/loleaflet.html")) for p in paths):
        return "collabora"  # .../browser/<hash>/cool.html; loleaflet.html before 21.11
    if any(p.endswith((".aspx", ".ashx")) for p in paths):
        return "microsoft"  # wordviewerframe.aspx, PowerPointFrame.aspx, ... (also OOS, the validator)
    return "other"


def extensions(discovery: Discovery) -> list[str]:
    """Every extension some action is offered for, sorted."""
    return sorted({a.ext for a in discovery.actions if a.ext})


# -- choosing an action ---------------------------------------------------------------------------


_EDIT_NAMES = ("edit",)
_VIEW_NAMES = ("view", "view_comment")  # view_comment: Collabora's only action for pdf


def choose_action(discovery: Discovery, extension: str, *, want_edit: bool,
                  host_supports: frozenset[str] = DEFAULT_HOST_SUPPORTS) -> Action | None:
    """The action to open a file with: edit if wanted and every WOPI group it requires is in
    host_supports, else a view action (requires honoured too), else None.

    Among duplicates the one marked default="true" wins, then the first in the document.
    Collabora lists `edit` alone for the formats it edits; asked to view one of those, this
    returns that edit action (Collabora opens it read-only when CheckFileInfo says
    UserCanWrite=false), as Nextcloud's richdocuments does."""
    ext = _normal_ext(extension)
    if not ext:
        return None
    usable = [a for a in discovery.actions if a.ext == ext and a.requires <= host_supports]
    edit = _best(usable, _EDIT_NAMES)
    if want_edit and edit is not None:
        return edit
    view = _best(usable, _VIEW_NAMES)
    if view is None and discovery.product == "collabora":
        return edit
    return view


def _best(actions: list[Action], names: tuple[str, ...]) -> Action | None:
    for name in names:
        matching = [a for a in actions if a.name.lower() == name]
        if matching:
            return next((a for a in matching if a.default), matching[0])
    return None


# -- the action URL -------------------------------------------------------------------------------

# [MS-REST online/discovery] "Transforming the urlsrc parameter": optional parameters are
# written <name=PLACEHOLDER_VALUE[&]>. An unknown placeholder, or one the host leaves at its
# default, is removed with its brackets; a known one keeps `name=`, gets a value and keeps its
# `&`. Microsoft may add placeholders at any time, hence removal rather than failure.
_PLACEHOLDER = re.compile(r"<([^<>=]+)=([^<>&]+)(&?)>")


def action_url(action: Action, *, wopi_src: str, language: str = "en-US", data_language: str | None = None,
               business_user: bool = False, disable_chat: bool = False, embedded: bool = False,
               fullscreen: bool = False, recording: bool = False, theme_id: int | None = None,
               host_session_id: str | None = None, session_context: str | None = None,
               values: Mapping[str, str] | None = None) -> str:
    """The URL the host page's form POSTs to (the access token goes in the form body, never here).

    Placeholders filled: UI_LLCC (language), DC_LLCC (data_language, else language),
    WOPI_SOURCE (wopi_src, URL-encoded), BUSINESS_USER (1/0). DISABLE_CHAT, EMBEDDED,
    FULLSCREEN, RECORDING, THEME_ID, HOST_SESSION_ID and SESSION_CONTEXT only when asked for;
    `values` fills any other placeholder by name (VALIDATOR_TEST_CATEGORY, ...). The rest is
    dropped. Without a WOPI_SOURCE placeholder (Collabora's `cool.html?`), WOPISrc is appended."""
    _check_wopi_src(wopi_src)
    filled: dict[str, str] = {
        "UI_LLCC": language,
        "DC_LLCC": data_language or language,
        "WOPI_SOURCE": wopi_src,
        "BUSINESS_USER": "1" if business_user else "0",
    }
    optional = {"DISABLE_CHAT": "1" if disable_chat else None, "EMBEDDED": "true" if embedded else None,
                "FULLSCREEN": "true" if fullscreen else None, "RECORDING": "true" if recording else None,
                "THEME_ID": str(theme_id) if theme_id is not None else None,
                "HOST_SESSION_ID": host_session_id, "SESSION_CONTEXT": session_context}
    filled.update({k: v for k, v in optional.items() if v})
    filled.update({k.upper(): v for k, v in (values or {}).items() if v})

    has_wopi_source = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal has_wopi_source
        name, placeholder, amp = match.group(1).strip(), match.group(2).strip().upper(), match.group(3)
        has_wopi_source |= placeholder == "WOPI_SOURCE"
        value = filled.get(placeholder)
        return f"{name}={quote(value, safe='')}{amp}" if value else ""

    url = _PLACEHOLDER.sub(substitute, action.urlsrc)
    base, _, query = url.partition("?")
    params = [p for p in query.split("&") if p]  # drops what removed placeholders left: "?&", "&&", "&"
    if not has_wopi_source:
        params.append(f"WOPISrc={quote(wopi_src, safe='')}")
    return f"{base}?{'&'.join(params)}" if params else base


def _check_wopi_src(wopi_src: str) -> None:
    parts = urlsplit(wopi_src)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("wopi_src must be an absolute http(s) URL (the WOPI files endpoint of the file)")
    if any(key.lower() == "access_token" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        # [MS-WOPI] st_wopi-url-source: the token travels in the POST body, never in the URL.
        raise ValueError("wopi_src must not carry the access token")
