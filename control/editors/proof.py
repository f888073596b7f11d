"""Proof-key checks of WOPI requests [MS-REST online/scenarios/proofkeys].

The editor signs every WOPI request (except fetches of FileUrl) with its private RSA key:
X-WOPI-Proof with its current key, X-WOPI-ProofOld with the key before it, over

    4-byte big-endian len(access_token) + access_token (UTF-8)
    + 4-byte BE len(URL) + the absolute URL it called, upper-cased (UTF-8)
    + 4-byte BE 8 + X-WOPI-TimeStamp as an 8-byte BE integer

with RSASSA-PKCS1-v1_5 and SHA-256, base64 in the headers. X-WOPI-TimeStamp is .NET
DateTime.UtcNow.Ticks (100 ns since 0001-01-01 UTC), not Unix time (petrsvihlik/WopiHost#296).

A request is genuine if X-WOPI-Proof verifies with the current key from discovery, or
X-WOPI-Proof with the old key, or X-WOPI-ProofOld with the current key. The last two mean
that the editor and our copy of its discovery disagree about which key is current (one of
them rotated): ProofResult.used_old_key tells the caller to fetch discovery again.

The URL must be the one the editor called (scheme, host and port as it saw them, every query
parameter included); behind a proxy that means rebuilding it from X-Forwarded-* headers, which
is the caller's business.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from control.editors.discovery import ProofKey

__all__ = [
    "MAX_AGE",
    "MAX_SKEW",
    "ProofResult",
    "dotnet_ticks",
    "from_ticks",
    "proof_payload",
    "verify_proof",
]

# [MS-REST proofkeys]: reject a timestamp older than 20 minutes. Five minutes into the future
# are tolerated for clock skew between the editor and this host (WopiHost does the same).
MAX_AGE = dt.timedelta(minutes=20)
MAX_SKEW = dt.timedelta(minutes=5)

_TICKS_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_TICKS_PER_SECOND = 10_000_000
_MAX_TICKS = 3_155_378_975_999_999_999  # DateTime.MaxValue.Ticks (9999-12-31T23:59:59.9999999)


@dataclass(frozen=True)
class ProofResult:
    ok: bool
    used_old_key: bool = False  # verified only thanks to an old key: fetch discovery again
    reason: str = ""  # why not, when not ok


def dotnet_ticks(moment: dt.datetime) -> int:
    """DateTime.Ticks of an aware datetime: 100 ns intervals since 0001-01-01T00:00:00Z."""
    if moment.tzinfo is None:
        raise ValueError("dotnet_ticks needs an aware datetime (X-WOPI-TimeStamp is UTC)")
    delta = moment - _TICKS_EPOCH
    return (delta.days * 86_400 + delta.seconds) * _TICKS_PER_SECOND + delta.microseconds * 10


def from_ticks(ticks: int) -> dt.datetime:
    """The UTC datetime of a .NET tick count (to the microsecond: ticks are 100 ns)."""
    if not 0 <= ticks <= _MAX_TICKS:
        raise ValueError(f"{ticks} is outside .NET DateTime's range")
    return _TICKS_EPOCH + dt.timedelta(microseconds=ticks // 10)


def proof_payload(*, access_token: str, url: str, ticks: int) -> bytes:
    """The bytes the editor signs."""
    token = access_token.encode("utf-8")
    # Python's str.upper() equals .NET's ToUpperInvariant on ASCII, which is all a
    # percent-encoded URL holds.
    upper_url = url.upper().encode("utf-8")
    return (struct.pack(">I", len(token)) + token + struct.pack(">I", len(upper_url)) + upper_url
            + struct.pack(">I", 8) + struct.pack(">q", ticks))


def verify_proof(*, access_token: str, url: str, proof: str | None, proof_old: str | None,
                 timestamp: str | None, current: ProofKey | None, old: ProofKey | None,
                 now: dt.datetime) -> ProofResult:
    """Checks a request's X-WOPI-Proof, X-WOPI-ProofOld and X-WOPI-TimeStamp headers (values
    as received; None or "" when absent) against the editor's keys from discovery."""
    if current is None and old is None:
        return ProofResult(False, reason="the editor's discovery has no proof key")
    if not (proof or "").strip():
        return ProofResult(False, reason="missing X-WOPI-Proof")
    if not (timestamp or "").strip():
        return ProofResult(False, reason="missing X-WOPI-TimeStamp")
    ticks = _ticks(timestamp or "")
    if ticks is None:
        return ProofResult(False, reason="timestamp malformed")
    signed_at = from_ticks(ticks)
    if now - signed_at > MAX_AGE:
        return ProofResult(False, reason="timestamp too old")
    if signed_at - now > MAX_SKEW:
        return ProofResult(False, reason="timestamp in the future")

    payload = proof_payload(access_token=access_token, url=url, ticks=ticks)
    if _verifies(proof, current, payload):
        return ProofResult(True)
    if _verifies(proof, old, payload) or _verifies(proof_old, current, payload):
        return ProofResult(True, used_old_key=True)
    return ProofResult(False, reason="signature does not match the current or old key")


def _ticks(text: str) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit():  # no sign, no spaces, no "1e9", no "١٢"
        return None
    ticks = int(text)
    return ticks if ticks <= _MAX_TICKS else None


def _verifies(signature_b64: str | None, key: ProofKey | None, payload: bytes) -> bool:
    if key is None or not signature_b64 or not signature_b64.strip():
        return False
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        key.public_key().verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
