"""WOPI lock semantics on a file row (rest/concepts#lock; MS-WOPI 3.3.5.1.x).

Pure functions over a row the caller has locked for update: the transaction around them is
the compare-and-set. A lock belongs to the file, never to a session or a user, and lapses
after 30 minutes unless refreshed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.errors import LockConflict
from shared.lock_ids import check_lock_id

LOCK_TTL_MS = 30 * 60 * 1000


class Lockable(Protocol):
    """A file row's lock columns (control.db.models.File, or LockState)."""

    lock_id: str | None
    lock_expire_time: int | None


@dataclass
class LockState:
    """The lock columns of a row read as a snapshot, for apply() to change; the caller writes them back."""

    lock_id: str | None
    lock_expire_time: int | None



def current_lock(file: Lockable, now: int) -> str:
    """The live lock id, or "" when unlocked or expired."""
    if file.lock_id and (file.lock_expire_time or 0) > now:
        return file.lock_id
    return ""


def _set(file: Lockable, lock_id: str, now: int) -> None:
    file.lock_id = lock_id
    file.lock_expire_time = now + LOCK_TTL_MS


def _clear(file: Lockable) -> None:
    file.lock_id = None
    file.lock_expire_time = None


def apply(file: Lockable, operation: str, *, lock_id: str, old_lock_id: str, now: int) -> str:
    """Performs a lock operation on `file`; returns the lock after it or raises LockConflict."""
    current = current_lock(file, now)
    if operation == "GetLock":
        return current
    check_lock_id(lock_id)
    if operation == "UnlockAndRelock":
        check_lock_id(old_lock_id, "X-WOPI-OldLock")
        if current != old_lock_id:
            raise LockConflict(current, "the file is not locked with X-WOPI-OldLock" if current
                               else "the file is not locked")
        _set(file, lock_id, now)
    elif operation == "Lock":
        if current and current != lock_id:
            raise LockConflict(current, "the file is locked with another lock id")
        _set(file, lock_id, now)  # a Lock with the current id is a refresh
    elif operation == "RefreshLock":
        if current != lock_id:
            raise LockConflict(current, "the file is locked with another lock id" if current
                               else "the file is not locked")
        _set(file, lock_id, now)
    elif operation == "Unlock":
        if current != lock_id:
            raise LockConflict(current, "the file is locked with another lock id" if current
                               else "the file is not locked")
        _clear(file)
    else:
        raise ValueError(f"not a lock operation: {operation}")
    return current_lock(file, now)
