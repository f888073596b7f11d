"""The WOPI operations, each with its policy: the one table both processes read.

The edge names an operation; the control plane decides with this table whether the session
may do it (writes need an edit session), whether the file's lock takes part (lock-sensitive
operations are compared in the control plane's compare-and-set, never in the edge), and who
knows the answer's status when the request is granted (lock operations and PutUserInfo are
decided in the control plane's transaction; the others after the edge touched storage).

Operations that change stored bytes or names take two calls (see control/services/write_intents.py):
the grant, then BeginWrite/CommitWrite around the storage change.

The internal proto mirrors this enum (wopiproxy.internal.v1.WopiOperation, same names with the
WOPI_OPERATION_ prefix, same numbers); tests/control/test_wopi_contract.py keeps them equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


# AuthorizeWopiRequests (several grants in one call, edge/call_batching.py): the most a call may carry.
MAX_GRANTS_PER_CALL = 256


class Decided(enum.Enum):
    """Where a granted request's answer is decided."""

    CONTROL = "control"  # in the control plane's transaction (the audit records 200 at once)
    EDGE = "edge"  # after the edge reads storage (the audit records status 0: unknown)
    TWO_PHASE = "two-phase"  # by the write protocol's confirmation (the audit records it then)


@dataclass(frozen=True)
class Policy:
    number: int  # the proto enum's number
    writes: bool  # needs an edit session
    lock_sensitive: bool  # the lock is compared (or changed) in the control plane's CAS
    changes_lock: bool  # a lock operation (Lock, Unlock, ...)
    decided: Decided


class WopiOperation(str, enum.Enum):
    """Values are the WOPI names, as the audit trail records them."""

    CHECK_FILE_INFO = "CheckFileInfo"
    GET_FILE = "GetFile"
    PUT_FILE = "PutFile"
    PUT_RELATIVE_FILE = "PutRelativeFile"
    LOCK = "Lock"
    UNLOCK_AND_RELOCK = "UnlockAndRelock"
    REFRESH_LOCK = "RefreshLock"
    UNLOCK = "Unlock"
    GET_LOCK = "GetLock"
    RENAME_FILE = "RenameFile"
    DELETE_FILE = "DeleteFile"
    PUT_USER_INFO = "PutUserInfo"

    @property
    def policy(self) -> Policy:
        return POLICIES[self]

    @property
    def writes(self) -> bool:
        return self.policy.writes

    @property
    def lock_sensitive(self) -> bool:
        return self.policy.lock_sensitive

    @property
    def changes_lock(self) -> bool:
        return self.policy.changes_lock

    @property
    def number(self) -> int:
        return self.policy.number

    @classmethod
    def from_number(cls, number: int) -> WopiOperation:
        """The operation of a proto enum number; ValueError for 0 or an unknown number."""
        try:
            return _BY_NUMBER[number]
        except KeyError:
            raise ValueError(f"unknown WOPI operation number {number}") from None


_C, _E, _T = Decided.CONTROL, Decided.EDGE, Decided.TWO_PHASE
O = WopiOperation  # noqa: E741  (a one-letter alias keeps the policy table readable)
POLICIES: dict[WopiOperation, Policy] = {
    #                           number writes lock_sensitive changes_lock decided
    O.CHECK_FILE_INFO: Policy(1, False, False, False, _E),
    O.GET_FILE: Policy(2, False, False, False, _E),
    O.PUT_FILE: Policy(3, True, True, False, _T),  # rest/files/putfile: X-WOPI-Lock must match
    O.PUT_RELATIVE_FILE: Policy(4, True, True, False, _T),  # the target's lock, if it exists
    O.LOCK: Policy(5, True, True, True, _C),
    O.UNLOCK_AND_RELOCK: Policy(6, True, True, True, _C),
    O.REFRESH_LOCK: Policy(7, True, True, True, _C),
    O.UNLOCK: Policy(8, True, True, True, _C),
    # GetLock reads the lock inside the CAS's transaction and changes nothing: viewers may ask.
    O.GET_LOCK: Policy(9, False, True, True, _C),
    O.RENAME_FILE: Policy(10, True, True, False, _T),
    O.DELETE_FILE: Policy(11, True, True, False, _T),  # refused while locked at all
    # About the user, not the file: viewers may keep their UserInfo too.
    O.PUT_USER_INFO: Policy(12, False, False, False, _C),
}
del O

assert set(POLICIES) == set(WopiOperation)
_BY_NUMBER: dict[int, WopiOperation] = {policy.number: operation for operation, policy in POLICIES.items()}
