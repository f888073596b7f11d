"""Who may see what: a tenant key sees only its own tenant, and a foreign id looks missing."""

from __future__ import annotations

from control.services import validation
from control.services.context import Principal
from shared.errors import PermissionDenied, TenantNotFound


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDenied("this call needs the admin key")


def require_edge(principal: Principal) -> None:
    """The internal EdgeService hands out storage credentials: edge keys only, not even admin keys."""
    if not principal.is_edge:
        raise PermissionDenied("this call needs an edge key (role edge)")


def require_tenant_visible(principal: Principal, tenant_id: str) -> None:
    """Raises TenantNotFound (never PermissionDenied) so that ids of other tenants leak nothing;
    an id that cannot exist is not found either, before it gets near the database."""
    if not validation.is_tenant_id(tenant_id):
        raise TenantNotFound(validation.printable(tenant_id, 63))
    if not principal.is_admin and principal.tenant_id != tenant_id:
        raise TenantNotFound(tenant_id)
