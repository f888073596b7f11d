"""A stand-in for CodiMD (cs3's fork) and HedgeDoc 1.x, which cannot be installed here (BRIDGE-NOTES §3.5).

A real HTTP server on 127.0.0.1:<ephemeral> (stdlib, in a thread) imitating the routes a bridge uses,
with the status codes of upstream (each pinned by tests/bridge/test_codimd_standin_contract.py, whose
docstrings cite the upstream file and line):

    standin = CodimdStandin("codimd-cs3", api_key="k", webhook_url=edge + "/bridge/codimd/webhook",
                            webhook_secret="s").start()
    standin.url                                   # http://127.0.0.1:<port> (CodiMD's serverURL)
    note_id = standin.create_note("# Title\\n")    # helper: POST /new, returns the id from Location
    standin.join(note_id, "ann"); standin.leave(note_id, "ann")    # the realtime "online" set
    standin.edit(note_id, "new text", lag=True)   # a user types; with lag the DB copy follows 1 s later
    standin.fire_webhook(note_id, close=True)     # the fork's save webhook; returns the edge's status
    standin.dump()                                # {"notes": {...}, "uploads": {...}, "webhooks": [...]}
    standin.stop()

Profiles:
- `codimd-cs3`: `HEAD|GET /metrics/codimd` 200; `GET /new`, `POST /new[?mode=locked]` (text/markdown, 413
  over `max_length` = documentMaxLength 100000, `\\r` stripped, 302 `Location: <url>/<22-char id>`); `GET|HEAD
  /<id>` (unknown id → note created with that alias (FreeURL), 200 (HedgeDoc 1: 302 to it); 302 to the
  canonical alias/id);
  `PUT /api/notes/<id>` JSON `{"content"}` (needs `Authorization: Bearer <api_key>` else 401; 404 unknown;
  403 `{"status":"error",...}` while users are online; 413 too long; `{"status":"ok"}`); `GET
  /<id>/download` (the DB copy, text/markdown); `GET /<id>/info` (`updatetime`); `GET /<id>/publish` → 302
  `/s/<alias or shortid>` (`/slide` → `/p/…`); `DELETE /api/notes/<id>` (Bearer key, else 401; 404 unknown;
  online users are disconnected; `{"status":"ok"}`); `POST /uploadimage[?generateFilename=false]` multipart
  `image` → `{"link": "<url>/uploads/<name>"}` (name kept with generateFilename=false, else
  `upload_<32 hex>.<ext>`; 403 unless bytes and extension are PNG/JPEG/GIF/WebP); `GET|HEAD /uploads/<name>`.
- `hedgedoc1`: the same without `/metrics/codimd` (404; HedgeDoc has `/_health` → `{"ready": true}` and
  `/metrics`) and without the note API (`PUT|DELETE /api/notes/<id>` 404), plus `POST /new/<alias>` (409 when
  the alias exists); upload names are `<uuid4>.<ext>` whatever generateFilename says, and the extension must
  match the bytes (PNG/JPEG/GIF/WebP/SVG) else 400.
Assumption (the fork's source is not public): a missing or wrong key on the note API answers 401 (upstream,
without the fork, answers 403 to anonymous callers when anonymous edits are off).
`allow_anonymous=False` makes `/new`, `/new/<alias>` and FreeURL creation need the Bearer key (403 without).

Test-only control routes (JSON in, JSON out): `POST /_standin/join|leave {"id","user"}`, `POST
/_standin/edit {"id","content","lag"}`, `POST /_standin/fire-webhook {"id","close"}` (POSTs exactly
`{"id":"<canonical id>","close":<bool>}` to `webhook_url`, signed `X-WopiProxy-Signature` with
`webhook_secret` via shared.signatures.sign; answers `{"status": <edge's status>}`), `GET /_standin/dump`.

Dates are ISO 8601 UTC with milliseconds, as Sequelize serialises `lastchangeAt`.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.signatures import HEADER as SIGNATURE_HEADER
from shared.signatures import sign

PROFILES = ("codimd-cs3", "hedgedoc1")
DOCUMENT_MAX_LENGTH = 100_000  # CodiMD's documentMaxLength default (lib/config/default.js)
DB_LAG_S = 1.0  # realtimeUpdateDirtyNoteJob.js: dirty notes are written every second
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
RESERVED_IDS = {"new", "metrics", "uploads", "uploadimage", "api", "s", "p", "_standin", "status", "_health"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _now_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _note_id() -> str:
    """CodiMD's ids are UUIDs encoded in 22 URL-safe base64 characters (Note.encodeNoteId)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _title(content: str) -> str:
    for line in content.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or "Untitled"
    return "Untitled"


@dataclass
class Note:
    id: str
    alias: str | None
    shortid: str
    content: str  # the live text (what users see)
    db_content: str  # what /download and /info read: lags the live text by DB_LAG_S
    permission: str
    created_at: float
    lastchange_at: float
    online: set[str] = field(default_factory=set)
    revisions: list[str] = field(default_factory=list)
    pending_flush: threading.Timer | None = None

    @property
    def canonical(self) -> str:
        return self.alias or self.id

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "alias": self.alias, "shortid": self.shortid, "content": self.content,
                "db_content": self.db_content, "permission": self.permission,
                "updatetime": _now_iso(self.lastchange_at), "online": sorted(self.online),
                "revisions": len(self.revisions)}


class HttpAnswer(Exception):
    """Raised by a route to answer at once (status, headers, body)."""

    def __init__(self, status: int, body: bytes | str | dict[str, Any] = b"",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, dict):
            self.body = json.dumps(body).encode()
            self.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        else:
            self.body = body.encode() if isinstance(body, str) else body
            self.headers.setdefault("Content-Type", "text/html; charset=utf-8")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            raise HttpAnswer(400, {"status": "error", "message": "invalid JSON"}) from None
        if not isinstance(value, dict):
            raise HttpAnswer(400, {"status": "error", "message": "JSON object expected"})
        return value


@dataclass
class CodimdStandin:
    profile: str
    api_key: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    allow_anonymous: bool = True
    max_length: int = DOCUMENT_MAX_LENGTH
    notes: dict[str, Note] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, not {self.profile!r}")

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> CodimdStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                standin._serve(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="codimd-standin").start()
        return self

    def stop(self) -> None:
        with self.lock:
            for note in self.notes.values():
                if note.pending_flush is not None:
                    note.pending_flush.cancel()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # -- the HTTP plumbing ----------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            if length > MAX_BODY_BYTES:
                raise HttpAnswer(413, "Payload Too Large", {"Connection": "close"})
            body = handler.rfile.read(length) if length else b""
            request = Request(handler.command, urllib.parse.unquote(split.path),
                              dict(urllib.parse.parse_qsl(split.query)),
                              {k.lower(): v for k, v in handler.headers.items()}, body)
            answer = self._route(request)
        except HttpAnswer as raised:
            answer = raised
        except Exception as error:  # a stand-in bug must show in the test, not hang the client
            answer = HttpAnswer(500, {"status": "error", "message": f"stand-in error: {error!r}"})
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(answer.body)

    def _route(self, request: Request) -> HttpAnswer:
        parts = [p for p in request.path.split("/") if p]
        method = "GET" if request.method == "HEAD" else request.method
        routes: list[tuple[str, Callable[[list[str]], bool], Callable[[Request, list[str]], HttpAnswer]]] = [
            ("GET", lambda p: p == ["metrics", "codimd"], self._metrics_codimd),
            ("GET", lambda p: p == ["metrics"], lambda r, p: HttpAnswer(200, "# metrics\n")),
            ("GET", lambda p: p == ["_health"], self._health),
            ("GET", lambda p: p == ["new"], self._new),
            ("POST", lambda p: p == ["new"], self._new),
            ("POST", lambda p: len(p) == 2 and p[0] == "new", self._new_alias),
            ("PUT", lambda p: len(p) == 3 and p[:2] == ["api", "notes"], self._update_note),
            ("DELETE", lambda p: len(p) == 3 and p[:2] == ["api", "notes"], self._delete_note),
            ("POST", lambda p: p == ["uploadimage"], self._upload_image),
            ("GET", lambda p: len(p) == 2 and p[0] == "uploads", self._get_upload),
            ("GET", lambda p: len(p) == 2 and p[0] in ("s", "p"), self._published),
            ("POST", lambda p: len(p) == 2 and p[0] == "_standin", self._control),
            ("GET", lambda p: p == ["_standin", "dump"], lambda r, p: HttpAnswer(200, self.dump())),
            ("GET", lambda p: len(p) == 1 and p[0] not in RESERVED_IDS, self._show_note),
            ("GET", lambda p: len(p) == 2 and p[0] not in RESERVED_IDS, self._note_action),
        ]
        for route_method, matches, handler in routes:
            if route_method == method and matches(parts):
                return handler(request, parts)
        raise HttpAnswer(404, "Not Found")

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        return bool(given) and hmac.compare_digest(
            hashlib.sha256(given.encode()).digest(), hashlib.sha256(self.api_key.encode()).digest())

    def _find(self, key: str) -> Note | None:
        """Note.parseNoteId: an id, an alias or a shortid."""
        with self.lock:
            if key in self.notes:
                return self.notes[key]
            for note in self.notes.values():
                if key in (note.alias, note.shortid):
                    return note
        return None

    def _create(self, content: str, alias: str | None = None, permission: str = "freely") -> Note:
        now = time.time()
        note = Note(id=_note_id(), alias=alias, shortid=secrets.token_urlsafe(7)[:9], content=content,
                    db_content=content, permission=permission, created_at=now, lastchange_at=now)
        with self.lock:
            self.notes[note.id] = note
        return note

    # -- upstream routes --------------------------------------------------------------------------------

    def _metrics_codimd(self, request: Request, parts: list[str]) -> HttpAnswer:
        if self.profile != "codimd-cs3":
            raise HttpAnswer(404, "Not Found")
        return HttpAnswer(200, "# codimd metrics\n", {"Content-Type": "text/plain; charset=utf-8"})

    def _health(self, request: Request, parts: list[str]) -> HttpAnswer:
        if self.profile != "hedgedoc1":
            raise HttpAnswer(404, "Not Found")
        return HttpAnswer(200, {"ready": True})

    def _markdown_body(self, request: Request) -> str:
        text = request.body.decode("utf-8", errors="replace") if request.method == "POST" else ""
        if len(text) > self.max_length:
            raise HttpAnswer(413, "Payload Too Large")
        return text.replace("\r", "")

    def _may_create(self, request: Request) -> None:
        if not self.allow_anonymous and not self._authenticated(request):
            raise HttpAnswer(403, "Forbidden")

    def _new(self, request: Request, parts: list[str]) -> HttpAnswer:
        content = self._markdown_body(request)
        self._may_create(request)
        permission = "locked" if request.query.get("mode") == "locked" else "freely"
        note = self._create(content, permission=permission)
        return HttpAnswer(302, "Found", {"Location": f"{self.url}/{note.id}"})

    def _new_alias(self, request: Request, parts: list[str]) -> HttpAnswer:
        if self.profile != "hedgedoc1":
            raise HttpAnswer(404, "Not Found")  # hackmdio/codimd#1550: no /new/<id> upstream
        alias = parts[1]
        content = self._markdown_body(request)
        self._may_create(request)
        with self.lock:
            if self._find(alias) is not None:
                raise HttpAnswer(409, "Conflict")
            note = self._create(content, alias=alias)
        return HttpAnswer(302, "Found", {"Location": f"{self.url}/{note.canonical}"})

    def _show_note(self, request: Request, parts: list[str]) -> HttpAnswer:
        key = parts[0]
        with self.lock:
            note = self._find(key)
            if note is None:
                self._may_create(request)
                note = self._create("", alias=key)  # FreeURL: the unknown id becomes the alias
                if self.profile == "hedgedoc1":  # HD1 findNote → newNote redirects to the new alias
                    return HttpAnswer(302, "Found", {"Location": f"{self.url}/{note.canonical}"})
        if key != note.canonical:
            return HttpAnswer(302, "Found", {"Location": f"{self.url}/{note.canonical}"})
        return HttpAnswer(200, f"<!DOCTYPE html><title>{_title(note.content)}</title>")

    def _note_action(self, request: Request, parts: list[str]) -> HttpAnswer:
        note = self._find(parts[0])
        if note is None:
            raise HttpAnswer(404, "Not Found")
        action = parts[1]
        cors = {"Access-Control-Allow-Origin": "*", "Cache-Control": "private",
                "X-Robots-Tag": "noindex, nofollow"}
        with self.lock:
            content, updated = note.db_content, note.lastchange_at
        if action == "download":
            filename = urllib.parse.quote(_title(content))
            return HttpAnswer(200, content, {**cors, "Content-Type": "text/markdown; charset=UTF-8",
                                             "Content-disposition": f"attachment; filename={filename}.md"})
        if action == "info":
            return HttpAnswer(200, {"title": _title(content), "description": None, "viewcount": 0,
                                    "createtime": _now_iso(note.created_at), "updatetime": _now_iso(updated)},
                              cors)
        if action in ("publish", "slide"):
            prefix = "s" if action == "publish" else "p"
            return HttpAnswer(302, "Found", {"Location": f"{self.url}/{prefix}/{note.alias or note.shortid}"})
        return HttpAnswer(302, "Found", {"Location": f"{self.url}/{parts[0]}"})  # unknown action

    def _published(self, request: Request, parts: list[str]) -> HttpAnswer:
        note = self._find(parts[1])
        if note is None:
            raise HttpAnswer(404, "Not Found")
        return HttpAnswer(200, f"<!DOCTYPE html><title>{_title(note.db_content)}</title>")

    def _update_note(self, request: Request, parts: list[str]) -> HttpAnswer:
        if self.profile != "codimd-cs3":
            raise HttpAnswer(404, "Not Found")  # HedgeDoc 1.x has no update API
        if not self._authenticated(request):
            raise HttpAnswer(401, {"status": "error", "message": "Unauthorized"})
        note = self._find(parts[2])
        if note is None:
            raise HttpAnswer(404, "Not Found")
        content = request.json().get("content")
        if not isinstance(content, str):
            raise HttpAnswer(400, {"status": "error", "message": "content must be a string"})
        if len(content) > self.max_length:
            raise HttpAnswer(413, "Payload Too Large")
        with self.lock:
            if note.online:
                raise HttpAnswer(403, {"status": "error",
                                       "message": "Update API can only be used when no users is online"})
            note.content = note.db_content = content
            note.lastchange_at = time.time()
            note.revisions.append(content)
        return HttpAnswer(200, {"status": "ok"})

    def _delete_note(self, request: Request, parts: list[str]) -> HttpAnswer:
        if self.profile != "codimd-cs3":
            raise HttpAnswer(404, "Not Found")  # HedgeDoc 1.x: no note API at all
        if not self._authenticated(request):
            raise HttpAnswer(401, {"status": "error", "message": "Unauthorized"})
        with self.lock:
            note = self._find(parts[2])
            if note is None:
                raise HttpAnswer(404, "Not Found")
            if note.pending_flush is not None:
                note.pending_flush.cancel()
            note.online.clear()  # realtime.disconnectSocketOnNote: its users are disconnected
            del self.notes[note.id]
        return HttpAnswer(200, {"status": "ok"})

    def _upload_image(self, request: Request, parts: list[str]) -> HttpAnswer:
        filename, data = _multipart_file(request, "image")
        if len(data) > MAX_UPLOAD_BYTES:
            raise HttpAnswer(413, "Payload Too Large")
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        magic = _image_type(data)
        if self.profile == "codimd-cs3":
            # CMD lib/imageRouter/index.js checkImageValid: the bytes (image-type: no SVG) and the
            # extension must both be allowed image types, else errorForbidden.
            if magic is None or magic == "svg" or extension not in IMAGE_EXTENSIONS:
                raise HttpAnswer(403, "Forbidden")
        elif magic is None or IMAGE_EXTENSIONS.get(extension) != magic:
            # HD1 lib/web/imageRouter/index.js checkUploadType: the extension must match the bytes → 400.
            raise HttpAnswer(400, "Bad Request")
        if self.profile == "hedgedoc1":
            name = f"{uuid.uuid4()}.{extension}"
        elif request.query.get("generateFilename") == "false":
            if not _SAFE_NAME.fullmatch(filename) or ".." in filename:
                raise HttpAnswer(400, {"error": "bad file name"})
            name = filename
        else:
            name = f"upload_{secrets.token_hex(16)}.{extension}"
        with self.lock:
            self.uploads[name] = data
        return HttpAnswer(200, {"link": f"{self.url}/uploads/{name}"})

    def _get_upload(self, request: Request, parts: list[str]) -> HttpAnswer:
        with self.lock:
            data = self.uploads.get(parts[1])
        if data is None:
            raise HttpAnswer(404, "Not Found")
        return HttpAnswer(200, data, {"Content-Type": "application/octet-stream"})

    # -- test-only control routes -----------------------------------------------------------------------

    def _control(self, request: Request, parts: list[str]) -> HttpAnswer:
        body = request.json()
        note = self._find(str(body.get("id", "")))
        if note is None:
            raise HttpAnswer(404, {"error": "no such note"})
        action = parts[1]
        if action == "join":
            with self.lock:
                note.online.add(str(body["user"]))
        elif action == "leave":
            with self.lock:
                note.online.discard(str(body["user"]))
                if not note.online:  # realtime.js: the last user leaving flushes the note to the DB
                    self._flush(note)
        elif action == "edit":
            self._edit(note, str(body["content"]), lag=bool(body.get("lag")))
        elif action == "fire-webhook":
            return HttpAnswer(200, {"status": self._fire_webhook(note, close=bool(body.get("close")))})
        else:
            raise HttpAnswer(404, {"error": "no such control route"})
        return HttpAnswer(200, note.as_json())

    def _flush(self, note: Note) -> None:
        with self.lock:
            if note.pending_flush is not None:
                note.pending_flush.cancel()
                note.pending_flush = None
            if note.db_content != note.content:
                note.db_content = note.content
                note.lastchange_at = time.time()

    def _edit(self, note: Note, content: str, *, lag: bool) -> None:
        with self.lock:
            note.content = content
            if not lag:
                self._flush(note)
            elif note.pending_flush is None:
                note.pending_flush = threading.Timer(DB_LAG_S, self._flush, args=(note,))
                note.pending_flush.daemon = True
                note.pending_flush.start()

    def _fire_webhook(self, note: Note, *, close: bool) -> int:
        if not self.webhook_url or self.webhook_secret is None:
            raise HttpAnswer(409, {"error": "started without webhook_url/webhook_secret"})
        body = json.dumps({"id": note.canonical, "close": close}, separators=(",", ":")).encode()
        request = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.webhook_secret.encode(), body)})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
        with self.lock:
            self.webhooks.append({"id": note.canonical, "close": close, "status": status})
        return status

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {"profile": self.profile,
                    "notes": {note.id: note.as_json() for note in self.notes.values()},
                    "uploads": {name: len(data) for name, data in self.uploads.items()},
                    "webhooks": list(self.webhooks)}

    # -- Python helpers over the HTTP routes ------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def create_note(self, content: str) -> str:
        """POST /new (with the key when anonymous creation is off); the new note's id."""
        headers = {"Content-Type": "text/markdown"}
        if not self.allow_anonymous:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.url}/new", data=content.encode(), method="POST",
                                         headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            if error.code != 302:
                raise
            return error.headers["Location"].rsplit("/", 1)[-1]
        raise AssertionError("POST /new did not redirect")

    def join(self, note_id: str, user: str) -> dict[str, Any]:
        return self._call("POST", "/_standin/join", {"id": note_id, "user": user})

    def leave(self, note_id: str, user: str) -> dict[str, Any]:
        return self._call("POST", "/_standin/leave", {"id": note_id, "user": user})

    def edit(self, note_id: str, content: str, *, lag: bool = False) -> dict[str, Any]:
        return self._call("POST", "/_standin/edit", {"id": note_id, "content": content, "lag": lag})

    def fire_webhook(self, note_id: str, *, close: bool) -> int:
        return int(self._call("POST", "/_standin/fire-webhook", {"id": note_id, "close": close})["status"])

    def note(self, note_id: str) -> dict[str, Any]:
        note = self._find(note_id)
        if note is None:
            raise KeyError(note_id)
        with self.lock:
            return note.as_json()


# The allowed upload types (CodiMD's/HedgeDoc's allowedUploadMimeTypes) by extension → detected type.
IMAGE_EXTENSIONS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "jfif": "jpg", "jpe": "jpg", "gif": "gif",
                    "webp": "webp", "svg": "svg"}


def _image_type(data: bytes) -> str | None:
    """The image type the bytes announce (magic numbers, as image-type/file-type detect them)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:1024].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "svg"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _multipart_file(request: Request, field_name: str) -> tuple[str, bytes]:
    """(filename, bytes) of the multipart/form-data part `field_name` (multer's `image` field)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise HttpAnswer(400, {"error": "multipart/form-data expected"})
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == field_name:
            filename = part.get_filename() or ""
            payload = part.get_payload(decode=True)
            return filename, payload if isinstance(payload, bytes) else b""
    raise HttpAnswer(400, {"error": f"no {field_name} part"})
