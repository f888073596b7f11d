"""The edge's half of the write protocol (control/services/write_intents.py has the whole).

After BeginWrite the edge changes storage only within the intent's publish window, and tells
the control plane when it could not (AbandonWrite). Whatever it fails to say (a crash, a lost
connection), the control plane resolves from what storage holds: so once storage holds the
change, the editor is told it is done even when CommitWrite cannot be made (commit_decided).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb

from edge.control_client import WopiCaller
from edge.runtime import runtime
from shared.errors import ControlPlaneUnavailable, StorageUnreachable
from shared.wopi_operation import WopiOperation

log = logging.getLogger(__name__)


class PublishWindow:
    def __init__(self, begun: edge_pb.BeginWriteResponse) -> None:
        self._deadline = time.monotonic() + begun.publish_within_ms / 1000

    def check(self) -> None:
        """Refuses to change storage once the intent may have been abandoned."""
        if time.monotonic() >= self._deadline:
            raise StorageUnreachable("", "storage was too slow: the write's publish window closed")


@asynccontextmanager
async def storage_change(caller: WopiCaller, operation: WopiOperation,
                         begun: edge_pb.BeginWriteResponse) -> AsyncIterator[PublishWindow]:
    """The storage steps of a begun write; on any failure the intent is abandoned (shielded: a
    cancelled request still tells the control plane) and the error goes on."""
    try:
        yield PublishWindow(begun)
    except BaseException as error:
        await asyncio.shield(runtime().control.abandon_write(caller, operation, intent_id=begun.intent_id,
                                                             reason=f"{type(error).__name__}: {error}"))
        raise


async def commit_decided(caller: WopiCaller, operation: WopiOperation, begun: edge_pb.BeginWriteResponse, *,
                         fingerprint: str = "") -> edge_pb.CommitWriteResponse | None:
    """CommitWrite once storage holds the change. None when the control plane cannot be reached
    (gone, or too slow, after asking another replica): the change is decided all the same, since
    the control plane confirms it from storage when it can (control/services/write_intents.py),
    so the caller answers success rather than a failure that is not true."""
    try:
        return await runtime().control.commit_write(caller, operation, intent_id=begun.intent_id,
                                                    fingerprint=fingerprint)
    except ControlPlaneUnavailable as unavailable:
        log.warning("%s of file %s done in storage but not yet recorded (%s): answered as done; the control "
                    "plane confirms it from storage (intent %s)", operation.value, caller.file_id,
                    unavailable.message, begun.intent_id)
        return None
