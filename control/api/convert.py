"""Rows and service results to protos."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from control.api.protos import session_pb, storage_pb, tenant_pb
from control.db.models import Storage, Tenant
from control.services.sessions import SessionView

PERMISSIONS = {"view": session_pb.PERMISSION_VIEW, "edit": session_pb.PERMISSION_EDIT}
PERMISSION_NAMES = {v: k for k, v in PERMISSIONS.items()} | {session_pb.PERMISSION_UNSPECIFIED: "edit"}
STATES = {
    "open": session_pb.SESSION_STATE_OPEN,
    "closed": session_pb.SESSION_STATE_CLOSED,
    "expired": session_pb.SESSION_STATE_EXPIRED,
}


def timestamp(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def tenant(row: Tenant) -> tenant_pb.Tenant:
    return tenant_pb.Tenant(id=row.id, name=row.name, enabled=row.enabled, create_time=timestamp(row.create_time))


def storage(row: Storage, options: dict[str, str]) -> storage_pb.Storage:
    return storage_pb.Storage(tenant_id=row.tenant_id, name=row.name, protocol=row.protocol, root=row.root,
                              options=options, create_time=timestamp(row.create_time))


def session(view: SessionView) -> session_pb.Session:
    row = view.row
    message = session_pb.Session(
        id=row.id, tenant_id=row.tenant_id, storage=row.storage_name, path=row.path, file_id=row.file_id,
        wopi_src=view.wopi_src, user_id=row.user_id, user_name=row.user_name,
        permission=PERMISSIONS[row.permission], state=STATES[view.state],
        create_time=timestamp(row.create_time), expire_time=timestamp(row.expire_time),
    )
    if row.close_time is not None:
        message.close_time.CopyFrom(timestamp(row.close_time))
    return message
