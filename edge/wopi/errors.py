"""The edge's one error boundary: domain errors become the status codes the WOPI spec names."""

from __future__ import annotations

import logging
import secrets

from quart import Response, jsonify

from shared import errors

log = logging.getLogger(__name__)

# Most specific class first. A bad, expired or foreign token is 401, never 403 or 404
# (Collabora and OnlyOffice show "session expired" only for 401).
_STATUS: list[tuple[type[errors.WopiProxyError], int]] = [
    (errors.AccessTokenInvalid, 401),
    (errors.TenantDisabled, 401),
    (errors.OperationNotPermitted, 401),
    (errors.NotFound, 404),
    (errors.FileTooLarge, 412),
    (errors.PayloadTooLarge, 413),
    (errors.UploadStalled, 408),
    (errors.InvalidArgument, 400),
    (errors.UnsupportedOperation, 501),
]


async def domain_error_response(error: errors.WopiProxyError) -> Response:
    status = next((code for cls, code in _STATUS if isinstance(error, cls)), 500)
    if status == 500:
        log.error("WOPI request failed: %s (%s)", error.message, error.reason)
    response = jsonify({"error": error.reason, "message": error.message})
    response.status_code = status
    return response


async def unexpected_error_response(error: Exception) -> Response:
    incident = secrets.token_hex(4)
    log.exception("unexpected error in a WOPI request (incident %s)", incident, exc_info=error)
    response = jsonify({"error": "INTERNAL", "message": f"internal error (incident {incident})"})
    response.status_code = 500
    return response
