"""Rows and service results to protos."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from control.api.protos import editor_pb, file_pb, key_pb, session_pb, storage_pb, tenant_pb
from control.db.models import ApiKey, Editor, FileVersion, SessionEvent, Storage, Tenant
from control.editors.discovery import Discovery, extensions
from control.services import events
from control.services.files import FileView
from control.services.sessions import SessionView
from control.services.tenants import TenantSettings

PERMISSIONS = {"view": session_pb.PERMISSION_VIEW, "edit": session_pb.PERMISSION_EDIT}
# Least privilege: a session whose caller named no permission can only view.
PERMISSION_NAMES = {v: k for k, v in PERMISSIONS.items()} | {session_pb.PERMISSION_UNSPECIFIED: "view"}
EVENT_TYPES = {
    "opened": session_pb.SESSION_EVENT_TYPE_OPENED, "saved": session_pb.SESSION_EVENT_TYPE_SAVED,
    "locked": session_pb.SESSION_EVENT_TYPE_LOCKED, "unlocked": session_pb.SESSION_EVENT_TYPE_UNLOCKED,
    "closed": session_pb.SESSION_EVENT_TYPE_CLOSED, "expired": session_pb.SESSION_EVENT_TYPE_EXPIRED,
}
STATES = {
    "open": session_pb.SESSION_STATE_OPEN,
    "closed": session_pb.SESSION_STATE_CLOSED,
    "expired": session_pb.SESSION_STATE_EXPIRED,
}
STATE_NAMES = {v: k for k, v in STATES.items()}


def timestamp(ms: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def milliseconds(stamp: Timestamp) -> int:
    """A caller's Timestamp in ms, unchecked: protobuf's ToMilliseconds raises ValueError (an
    internal error) out of its range, while the range is the service's rule (validation.time_ms)."""
    return stamp.seconds * 1000 + stamp.nanos // 1_000_000


REDACTED = "***"


def tenant(row: Tenant) -> tenant_pb.Tenant:
    settings = tenant_pb.TenantSettings(
        post_message_origin=row.post_message_origin, default_session_ttl_seconds=row.default_session_ttl_s,
        webhook_url=row.webhook_url, audit_retention_days=row.audit_retention_days,
        webhook_secret=REDACTED if row.webhook_secret else "", editor_mode=row.editor_mode,
        max_file_size_cap=row.max_file_size_cap, conflict_copy_quota=row.conflict_copy_quota,
    )
    return tenant_pb.Tenant(id=row.id, name=row.name, enabled=row.enabled, create_time=timestamp(row.create_time),
                            update_time=timestamp(row.update_time or row.create_time), settings=settings,
                            conflict_copy_bytes=row.conflict_copy_bytes)


def tenant_settings(message: tenant_pb.TenantSettings, paths: set[str] | None = None) -> TenantSettings:
    """Proto settings to the service's; with `paths`, only the named fields (others stay None)."""
    def wanted(field: str) -> bool:
        return paths is None or "settings" in paths or f"settings.{field}" in paths

    values = {f: getattr(message, f) for f in (
        "post_message_origin", "default_session_ttl_seconds", "webhook_url", "webhook_secret",
        "audit_retention_days", "editor_mode", "max_file_size_cap", "conflict_copy_quota")}
    if paths is None:  # create: unset (default) fields are just defaults
        return TenantSettings(**values)
    return TenantSettings(**{f: v for f, v in values.items() if wanted(f)})


KEY_ROLES = {"admin": key_pb.KEY_ROLE_ADMIN, "tenant": key_pb.KEY_ROLE_TENANT, "edge": key_pb.KEY_ROLE_EDGE}
ROLE_NAMES = {value: name for name, value in KEY_ROLES.items()}


def api_key(row: ApiKey) -> key_pb.ApiKey:
    message = key_pb.ApiKey(id=row.id, tenant_id=row.tenant_id or "", description=row.description,
                            role=KEY_ROLES.get(row.role, key_pb.KEY_ROLE_UNSPECIFIED),
                            create_time=timestamp(row.create_time))
    if row.revoke_time is not None:
        message.revoke_time.CopyFrom(timestamp(row.revoke_time))
    return message


def session_event(row: SessionEvent, cursor: str) -> session_pb.SessionEvent:
    return session_pb.SessionEvent(
        cursor=cursor, type=EVENT_TYPES[row.type], time=timestamp(row.time), tenant_id=row.tenant_id,
        session_id=row.session_id, file_id=row.file_id, user_id=row.user_id, version=row.version,
        account=row.account, origin=events.origin(row),
    )


def storage(row: Storage, options: dict[str, str]) -> storage_pb.Storage:
    return storage_pb.Storage(tenant_id=row.tenant_id, name=row.name, protocol=row.protocol, root=row.root,
                              options=options, create_time=timestamp(row.create_time),
                              max_file_size=row.max_file_size, version_retention=row.version_retention,
                              operator_owned=row.operator_owned)


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
    message.account = row.account
    message.origin.update(events.origin(row))
    message.editor = view.editor_name
    message.created_by_key = row.created_by_key or ""
    return message


PROOF_POLICIES = {"required": editor_pb.PROOF_POLICY_REQUIRED, "if-advertised": editor_pb.PROOF_POLICY_IF_ADVERTISED,
                  "off": editor_pb.PROOF_POLICY_OFF}


def editor(row: Editor, parsed: Discovery | None, *, internal_addresses: bool) -> editor_pb.Editor:
    """Without `internal_addresses` (editors.shows_internal_addresses), the fields that name where
    the editor runs for the control plane and the edge are left empty (an app_url browsers open
    too, app_public_url empty, is public and stays)."""
    message = editor_pb.Editor(
        name=row.name, tenant_id=row.tenant_id, discovery_url=row.discovery_url if internal_addresses else "",
        proof_policy=PROOF_POLICIES[row.proof_policy], product=row.product,
        proof_keys_advertised=bool(parsed and parsed.proof_key),
        discovery_error=row.discovery_error if internal_addresses else "",
        extensions=extensions(parsed) if parsed else [], create_time=timestamp(row.create_time),
        kind=row.kind, app_url=row.app_url if internal_addresses or not row.app_public_url else "",
        app_public_url=row.app_public_url,
        has_api_key=bool(row.api_key),
        has_webhook_secret=bool(row.webhook_secret),
    )
    if row.fetch_time:
        message.discovery_fetch_time.CopyFrom(timestamp(row.fetch_time))
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
