"""GET /host/<launch code>: a ready page for a session.

The code is single-use and short-lived, so the URL can be handed to a browser; the access
token only ever travels in the POST body of the form, never in a URL. Editor messages are
relayed to the application's page (the tenant's PostMessageOrigin) and back.
"""

from __future__ import annotations

import html
import ipaddress
import re
import secrets
from urllib.parse import urlsplit

from quart import Blueprint, Response, render_template_string

from edge.bridge.launch import BridgeOpenFailed, open_bridged
from edge.bridge.services import bridge_services
from edge.runtime import runtime
from edge.wopi.caller import client_address
from wopiproxy.internal.v1 import edge_service_pb2 as edge_pb
from shared.errors import LaunchCodeInvalid

blueprint = Blueprint("host", __name__)
MAX_CODE_LENGTH = 64

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1, minimum-scale=1, user-scalable=no">
<meta name="referrer" content="no-referrer">
<title>{{ file_name }}</title>
{% if favicon_url %}<link rel="shortcut icon" href="{{ favicon_url }}">{% endif %}
<style nonce="{{ nonce }}">
html, body { margin: 0; padding: 0; height: 100%; overflow: hidden; }
#office_frame { width: 100%; height: 100%; border: none; display: block; }
</style>
</head>
<body>
<form id="office_form" name="office_form" target="office_frame" action="{{ action_url }}" method="post">
<input name="access_token" value="{{ access_token }}" type="hidden">
<input name="access_token_ttl" value="{{ access_token_ttl }}" type="hidden">
</form>
<iframe id="office_frame" name="office_frame" title="{{ file_name }}" allowfullscreen
 allow="clipboard-read; clipboard-write; fullscreen"></iframe>
<script nonce="{{ nonce }}">
(function () {
  var editorOrigin = {{ editor_origin | tojson }};
  var appOrigin = {{ post_message_origin | tojson }};
  var frame = document.getElementById("office_frame");
  window.addEventListener("message", function (event) {
    if (event.origin === editorOrigin && appOrigin && window.parent !== window) {
      window.parent.postMessage(event.data, appOrigin);
    } else if (appOrigin && event.origin === appOrigin && frame.contentWindow) {
      frame.contentWindow.postMessage(event.data, editorOrigin);
    }
  });
  document.getElementById("office_form").submit();
})();
</script>
</body>
</html>
"""


# A DNS name (letters, digits, hyphens, dots) or an IPv4 address; IPv6 is checked by ipaddress.
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """The strict origin scheme://host[:port] of an http(s) URL, None for anything else. The
    editor's URL comes from the tenant's discovery (urlsrc, favIconUrl), which a tenant key
    controls, and the origin is written into CSP directives: taken verbatim, a netloc such as
    `x;frame-ancestors *` would add a directive of its own. The default port is left out, as
    browsers serialise origins (the page compares it with postMessage's event.origin)."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number, or out of range; a malformed IPv6 literal
        return None
    if scheme not in _DEFAULT_PORTS or parts.username is not None or parts.password is not None:
        return None
    if parts.netloc.startswith("["):
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if address.scope_id is not None:  # "%zone" is no part of an origin
            return None
        host = f"[{address.compressed}]"
    elif not _HOST.fullmatch(host):
        return None
    shown_port = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


GONE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Link expired</title>
</head>
<body>
<p>This link has been used or has expired; open the document again from your application.</p>
</body>
</html>
"""


NOTICE_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
</head>
<body>
<p>{message}</p>
</body>
</html>
"""


def framing(post_message_origin: str) -> tuple[str, str]:
    """Who may frame a host page: the tenant's configured application origin, else only the edge
    itself. X-Frame-Options (for browsers without CSP frame-ancestors) can only say SAMEORIGIN
    or DENY, so it is sent only when it means the same thing. Returns (frame-ancestors, X-Frame-Options
    or "")."""
    if post_message_origin:
        return post_message_origin, ""
    return "'self'", "SAMEORIGIN"


def _hardened(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.errorhandler(LaunchCodeInvalid)
async def launch_code_invalid(error: LaunchCodeInvalid) -> Response:
    """A person opened this link: a page to read, not JSON. Unknown, used and expired codes look
    the same (only a hash of a code is kept, and a used one is gone), hence 404 for all."""
    response = Response(GONE_PAGE, status=404, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    response.headers["X-Frame-Options"] = "DENY"
    return _hardened(response)


def _notice(status: int, title: str, message: str, post_message_origin: str) -> Response:
    """A page a person reads (the host page is in the application's frame)."""
    response = Response(NOTICE_PAGE.format(title=html.escape(title), message=html.escape(message)),
                        status=status, mimetype="text/html")
    ancestors, frame_options = framing(post_message_origin)
    response.headers["Content-Security-Policy"] = f"default-src 'none'; frame-ancestors {ancestors}; base-uri 'none'"
    if frame_options:
        response.headers["X-Frame-Options"] = frame_options
    if status == 503:
        response.headers["Retry-After"] = "5"
    return _hardened(response)


async def _bridged(launch: edge_pb.RedeemLaunchCodeResponse) -> Response:
    """A bridged app's session (docs/BRIDGE.md): into the file's shared document, then 302 to the
    app's entry route with a single-use code (the code, never a token, is in the URL)."""
    try:
        opened = await open_bridged(bridge_services(), launch.access_token, client_address())
    except BridgeOpenFailed as failed:
        return _notice(failed.status, launch.file_name or "Document", failed.message, launch.post_message_origin)
    response = Response("", status=302)
    response.headers["Location"] = opened.entry_url
    return _hardened(response)


@blueprint.get("/host/<code>")
async def host_page(code: str) -> Response:
    # Made-up codes count like made-up tokens (edge/wopi/flood.py): each one that reaches the control
    # plane is a transaction there, so an address past its limit is refused here (a code is single
    # use: never a trusted token).
    flood, address = runtime().flood, client_address()
    retry_after = flood.retry_after(address, "")
    if retry_after is not None:
        response = _notice(429, "Too many attempts", "Too many links that do not work were opened from this "
                           f"address. Try again in {retry_after} seconds.", "")
        response.headers["Retry-After"] = str(retry_after)
        return response
    if len(code) > MAX_CODE_LENGTH:
        flood.refused(address, "", checked_by_control=False)
        raise LaunchCodeInvalid()
    try:
        launch = await runtime().control.redeem_launch_code(code, address)
    except LaunchCodeInvalid:
        flood.refused(address, "", checked_by_control=True)
        raise
    if launch.editor_kind not in ("", "wopi"):
        return await _bridged(launch)
    editor_origin = origin_of(launch.action_url)
    if editor_origin is None:
        return _notice(502, launch.file_name or "Document", "The editor's address in its discovery document "
                       "is not a valid http(s) URL; ask the administrator to check the editor.",
                       launch.post_message_origin)
    # A favicon whose origin is not strict is left out, not allowed in the policy.
    favicon_origin = origin_of(launch.favicon_url) if launch.favicon_url else None
    favicon_url = launch.favicon_url if favicon_origin else ""
    nonce = secrets.token_urlsafe(16)
    html = await render_template_string(
        PAGE, nonce=nonce, file_name=launch.file_name, favicon_url=favicon_url,
        action_url=launch.action_url, access_token=launch.access_token,
        access_token_ttl=launch.access_token_ttl, editor_origin=editor_origin,
        post_message_origin=launch.post_message_origin,
    )
    response = Response(html, status=200, mimetype="text/html")
    ancestors, frame_options = framing(launch.post_message_origin)
    images = f" {favicon_origin}" if favicon_origin else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"frame-src {editor_origin}; form-action {editor_origin}; img-src 'self'{images}; "
        f"frame-ancestors {ancestors}; base-uri 'none'"
    )
    if frame_options:
        response.headers["X-Frame-Options"] = frame_options
    return _hardened(response)
