"""WOPI access tokens: minted here and only here, stored only as their hash.

A token is 256 random bits (url-safe base64), bound to one session (tenant, file, user,
permission, expiry) by the session row that holds its hash. Looking one up hashes it again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 32


@dataclass(frozen=True)
class MintedToken:
    token: str  # handed to the application once, never stored
    token_hash: str  # what the session row keeps


def hash_token(token: str) -> str:
    """256 random bits need no slow hash: a plain SHA-256 is one-way enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint() -> MintedToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return MintedToken(token=token, token_hash=hash_token(token))


def new_session_id() -> str:
    return "ses_" + secrets.token_urlsafe(12)
