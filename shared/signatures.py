"""Signed requests between wopi-proxy and the apps it bridges (Etherpad plugin, CodiMD webhook).

One scheme, both directions: the header `X-WopiProxy-Signature: t=<unix seconds>,v1=<hex>` where
the hex is HMAC-SHA256(secret, "<t>." + the raw body). The timestamp is inside the MAC, so a captured
request replays only within REPLAY_WINDOW_S; the body is covered byte for byte, so nothing in it can
be changed. Every failure raises the same BridgeSignatureInvalid: callers learn nothing from which
check failed. (Hocuspocus signs with its own header, checked by `verify_hocuspocus`.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from shared.errors import BridgeSignatureInvalid

HEADER = "X-WopiProxy-Signature"
HOCUSPOCUS_HEADER = "X-Hocuspocus-Signature-256"
REPLAY_WINDOW_S = 300
MAX_HEADER_LENGTH = 200


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, now: int | None = None) -> str:
    """The header value for `body`, signed at `now` (default: the current time)."""
    timestamp = int(time.time()) if now is None else now
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


_HOCUSPOCUS_FORM = re.compile(r"sha256=[0-9a-f]{64}")


def check_form(header_name: str, value: str, now: int | None = None) -> None:
    """BridgeSignatureInvalid unless `value` could be a signature for header `header_name` (and,
    for ours, one made within the replay window): checked before a request's body is read, so
    that a request that cannot be signed costs the edge no body."""
    if header_name == HOCUSPOCUS_HEADER:
        if _HOCUSPOCUS_FORM.fullmatch(value) is None:
            raise BridgeSignatureInvalid()
        return
    timestamp, _ = _parse(value)
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > REPLAY_WINDOW_S:
        raise BridgeSignatureInvalid()


def _parse(header: str) -> tuple[int, str]:
    if not header or len(header) > MAX_HEADER_LENGTH:
        raise BridgeSignatureInvalid()
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key in fields:
            raise BridgeSignatureInvalid()
        fields[key] = value
    timestamp, mac = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or len(mac) != 64:
        raise BridgeSignatureInvalid()
    return int(timestamp), mac


def verify(secret: bytes, body: bytes, header: str | None, now: int | None = None) -> None:
    """Raise BridgeSignatureInvalid unless `header` signs `body` with `secret`, recently."""
    timestamp, mac = _parse(header or "")
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > REPLAY_WINDOW_S:
        raise BridgeSignatureInvalid()
    if not hmac.compare_digest(mac, _mac(secret, timestamp, body)):
        raise BridgeSignatureInvalid()


def verify_hocuspocus(secret: bytes, body: bytes, header: str | None) -> None:
    """Hocuspocus's webhook extension signs `sha256=<hex HMAC-SHA256(secret, body)>`, no timestamp."""
    value = header or ""
    if not value.startswith("sha256=") or len(value) != 71:
        raise BridgeSignatureInvalid()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(value[7:], expected):
        raise BridgeSignatureInvalid()
