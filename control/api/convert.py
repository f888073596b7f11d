"""Rows and service results to protos."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from control.api.protos import file_pb, session_pb, storage_pb, tenant_pb
from control.db.models import FileVersion, Storage, Tenant
from control.services.files import FileView
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
                              options=options, create_time=timestamp(row.create_time),
                              max_file_size=row.max_file_size, version_retention=row.version_retention)


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


def file(view: FileView) -> file_pb.File:
    row = view.file
    path = row.deleted_from or row.path  # never the internal tombstone
    message = file_pb.File(id=row.id, tenant_id=row.tenant_id, storage=view.storage_name, path=path,
                           version=row.version, size=row.size, sha256=row.sha256, lock_id=view.lock_id,
                           update_time=timestamp(row.update_time))
    if view.lock_id and row.lock_expire_time:
        message.lock_expire_time.CopyFrom(timestamp(row.lock_expire_time))
    if row.deleted_time is not None:
        message.deleted_time.CopyFrom(timestamp(row.deleted_time))
    return message


def file_version(row: FileVersion) -> file_pb.FileVersion:
    return file_pb.FileVersion(version=row.version, size=row.size, sha256=row.sha256, reason=row.reason,
                               replaced_by=row.replaced_by, create_time=timestamp(row.create_time))
