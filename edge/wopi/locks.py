"""Lock, GetLock, RefreshLock, Unlock and UnlockAndRelock (rest/files/lock ... unlockandrelock).

The compare-and-set happens in the control plane's database inside AuthorizeWopiRequest;
a conflict comes back as LockConflict and becomes 409 with X-WOPI-Lock (edge/wopi/errors.py).
"""

from __future__ import annotations

from quart import Response, request

from edge.control_client import WopiCaller
from edge.runtime import runtime
from edge.wopi.headers import lock_header
from edge.wopi.versions import current_item_version
from shared.wopi_operation import WopiOperation


async def _reply(grant, *, with_lock: bool = False) -> Response:  # type: ignore[no-untyped-def]
    response = Response("", status=200)
    if with_lock:
        response.headers["X-WOPI-Lock"] = grant.lock_id
    version = await current_item_version(grant)
    if version:
        response.headers["X-WOPI-ItemVersion"] = version
    return response


async def lock(caller: WopiCaller) -> Response:
    """LOCK is also UnlockAndRelock when X-WOPI-OldLock is present."""
    new_lock = lock_header()
    if "X-WOPI-OldLock" in request.headers:
        old_lock = lock_header("X-WOPI-OldLock")
        grant = await runtime().control.authorize(caller, WopiOperation.UNLOCK_AND_RELOCK, lock_id=new_lock,
                                                  old_lock_id=old_lock)
    else:
        grant = await runtime().control.authorize(caller, WopiOperation.LOCK, lock_id=new_lock)
    return await _reply(grant)


async def get_lock(caller: WopiCaller) -> Response:
    grant = await runtime().control.authorize(caller, WopiOperation.GET_LOCK)
    return await _reply(grant, with_lock=True)


async def refresh_lock(caller: WopiCaller) -> Response:
    grant = await runtime().control.authorize(caller, WopiOperation.REFRESH_LOCK, lock_id=lock_header())
    return await _reply(grant)


async def unlock(caller: WopiCaller) -> Response:
    grant = await runtime().control.authorize(caller, WopiOperation.UNLOCK, lock_id=lock_header())
    return await _reply(grant)
