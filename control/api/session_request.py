"""CreateSessionRequest, ours or the original product's: both shapes become one set of fields.

The original product's clients send storage_name, file_path, user, permissions ["view"] or
["view","edit"], origin_connection_id and origin_page_id; the proto carries them as aliases so
that the REST gateway needs no hand-written route.
"""

from __future__ import annotations

from typing import Any

from control.api.convert import PERMISSION_NAMES
from control.api.protos import session_pb
from control.services.context import Principal
from shared.errors import InvalidArgument


def _permission(request: session_pb.CreateSessionRequest) -> str:
    if request.permissions:
        unknown = set(request.permissions) - {"view", "edit"}
        if unknown:
            raise InvalidArgument("permissions", f"unknown permission(s) {sorted(unknown)}; use view and edit")
        return "edit" if "edit" in request.permissions else "view"
    if request.permission not in PERMISSION_NAMES:
        raise InvalidArgument("permission", "PERMISSION_VIEW or PERMISSION_EDIT")
    return PERMISSION_NAMES[request.permission]


def normalize(request: session_pb.CreateSessionRequest, principal: Principal) -> dict[str, Any]:
    """Keyword arguments of services.sessions.create_session; the tenant comes from a tenant key."""
    origin = dict(request.origin)
    if request.origin_connection_id:
        origin.setdefault("connection_id", request.origin_connection_id)
    if request.origin_page_id:
        origin.setdefault("page_id", request.origin_page_id)
    user_id = request.user_id or request.user
    return {
        "tenant_id": request.tenant_id or (principal.tenant_id or ""),
        "storage_name": request.storage or request.storage_name,
        "path": request.path or request.file_path,
        "user_id": user_id,
        "user_name": request.user_name or user_id,
        "permission": _permission(request),
        "ttl_seconds": request.ttl_seconds,
        "account": request.account,
        "origin": origin,
        "create": request.create,
        "template_path": request.template_path,
        "editor": request.editor,
        "language": request.language,
    }
