"""Bytes of a save the control plane could not record are kept, never dropped.

When the control plane is down (or too slow) at the moment a save is recorded, the file is not
replaced (the database would not know its new content) and the editor is told the save failed
(503). The staged bytes become a recovery copy the operator can list and restore:
`<storage root>/.wopi-recovery/<file id>/<UTC time>-<user>-<name>`, named in the edge's log.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re

from edge.control_client import Grant, WopiCaller
from shared.errors import ControlPlaneUnavailable
from shared.storage import FsspecStorage, StagedWrite

log = logging.getLogger(__name__)

RECOVERY_FOLDER = ".wopi-recovery"
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def recovery_path(file_id: str, user_id: str, name: str, now: dt.datetime) -> str:
    user = _UNSAFE.sub("_", user_id)[:40] or "user"
    safe_name = _UNSAFE.sub("_", name)[-120:] or "file"
    return f"{RECOVERY_FOLDER}/{_UNSAFE.sub('_', file_id)}/{now:%Y%m%dT%H%M%S.%f}Z-{user}-{safe_name}"


async def keep_for_recovery(caller: WopiCaller, grant: Grant, storage: FsspecStorage, staged: StagedWrite,
                            error: ControlPlaneUnavailable, *, target: str) -> ControlPlaneUnavailable:
    """Publishes the staged bytes as a recovery copy; returns the error that tells the editor
    the save failed (the copy's failure is logged, the original error still answers)."""
    path = recovery_path(caller.file_id, grant.user_id, posixpath.basename(target), dt.datetime.now(dt.UTC))
    try:
        await staged.publish(path, internal=True)
    except Exception:  # storage trouble too: say so, and answer with the first failure
        log.exception("save of %s in tenant %s could not be recorded (%s) nor kept for recovery",
                      target, grant.tenant_id, error.message)
        return error
    log.error("save of %s in tenant %s (file %s, %d bytes) could not be recorded (%s): bytes kept at %s/%s",
              target, grant.tenant_id, caller.file_id, staged.result.size, error.message, storage.root, path)
    return ControlPlaneUnavailable(f"{error.metadata.get('detail', '')}; the save was not recorded "
                                   f"(its content is kept for the operator to recover)")
