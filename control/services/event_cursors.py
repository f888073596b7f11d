"""Event cursors as clients see them: opaque, so that a tenant cannot count other tenants' events.

Session events take their ids from one sequence for the whole deployment, since the id is what
orders events in commit order (events.emit). Shown as it is, the gap between two of a tenant's
cursors counts every event of every other tenant in between: their volume and timing, almost live.
A cursor is therefore the id encrypted as one AES block (the id's 8 bytes and 8 zero bytes) under a
key derived from the control plane's secret key, which every replica shares, so any replica reads
the cursors of any other. The zero bytes make a made-up cursor fail to decode (INVALID_ARGUMENT)
rather than land somewhere; positions are tenant-scoped in every query all the same.

Also accepted: "0" (from the oldest kept event, as documented in the API). Plain ids, the cursors
issued before they were opaque, are not: a tenant could then probe positions between two of its
own events and count the others' (a client holding an old cursor starts again from "0" or "").
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.errors import InvalidArgument

_PAD = bytes(8)
_TEXT = re.compile(r"[A-Za-z0-9_-]{22}")  # 16 bytes in url-safe base64 without padding


@dataclass(frozen=True)
class EventCursors:
    """Turns event ids into cursors and back, with one key (see the module docstring)."""

    key: bytes = field(default_factory=lambda: os.urandom(32), repr=False)  # a process of its own (unit tests)

    def __post_init__(self) -> None:
        if len(self.key) not in (16, 24, 32):
            raise ValueError("an event cursor key is 16, 24 or 32 bytes")

    def _cipher(self) -> Cipher[modes.ECB]:
        # ECB over a single block whose plaintext never repeats (each id once) is a keyed permutation.
        return Cipher(algorithms.AES(self.key), modes.ECB())

    def encode(self, event_id: int) -> str:
        if not 0 < event_id < 1 << 63:
            raise ValueError(f"event id {event_id} out of range")
        encryptor = self._cipher().encryptor()
        block = encryptor.update(event_id.to_bytes(8, "big") + _PAD) + encryptor.finalize()
        return base64.urlsafe_b64encode(block).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str) -> int:
        """The event id a cursor stands for (0: before the oldest); InvalidArgument otherwise."""
        if cursor == "0":
            return 0
        if not _TEXT.fullmatch(cursor):
            raise _not_ours()
        block = base64.urlsafe_b64decode(cursor + "==")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(block) + decryptor.finalize()
        if plain[8:] != _PAD:
            raise _not_ours()
        return int.from_bytes(plain[:8], "big")


def _not_ours() -> InvalidArgument:
    return InvalidArgument("cursor", "not a cursor returned by this API")
