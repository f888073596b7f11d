"""What a WOPI lock id may be: the one rule the edge (at the header) and the control plane (at the
lock change) both apply.

Ids are opaque to the host and compared exactly, up to 1024 characters (SupportsExtendedLockLength).
They travel back to other editors in X-WOPI-Lock, a header value: printable ASCII only, so no
control character (DEL included) can reach another editor's reply.
"""

from __future__ import annotations

from shared.errors import InvalidArgument

MAX_LOCK_ID_LENGTH = 1024


def check_lock_id(lock_id: str, field: str = "X-WOPI-Lock") -> str:
    """`lock_id` when it is a valid lock id; InvalidArgument naming `field` otherwise."""
    if not lock_id:
        raise InvalidArgument(field, "missing")
    if len(lock_id) > MAX_LOCK_ID_LENGTH:
        raise InvalidArgument(field, f"longer than {MAX_LOCK_ID_LENGTH} characters")
    if any(not 32 <= ord(c) < 127 for c in lock_id):
        raise InvalidArgument(field, "must be printable ASCII")
    return lock_id
