"""Logging set-up: one line per event, as text (key=value, for people) or JSON (for log shippers).

Fields known while a request is handled (request id, tenant, operation, ...) travel in a
contextvar (`bind`, `annotate`) and as `extra=` of a call; both formats add them to the line.

Never pass an access token, an API key or file content to a logger. As a last guard the
formatters blank what looks like one (`access_token=...`, `Bearer ...`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FORMATS = ("text", "json")

# The fields a line may carry besides time, level, logger and message (a fixed set: a record's
# other attributes never reach the output).
FIELDS = ("request_id", "tenant", "operation", "status", "duration_ms", "method", "path", "client", "rpc", "code",
          "bytes_in", "bytes_out", "trace_id", "span_id")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("wopi_proxy_log_fields",
                                                                                   default=None)
_SECRETS = re.compile(r"(access_token=)[^&\s\"']+|(bearer\s+)[^\s\"',]+", re.IGNORECASE)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Adds `fields` to every line logged inside the block (in this task and tasks it starts)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def begin(**fields: Any) -> None:
    """Starts the fields of a unit of work that runs in its own task (an HTTP request, an RPC):
    the task's context ends with it, so nothing needs resetting."""
    _context.set(dict(fields))


def annotate(**fields: Any) -> None:
    """Adds fields to the current `bind` block (e.g. the tenant, once a token is resolved)."""
    current = _context.get()
    if current is not None:
        current.update(fields)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The context's fields, overridden by the record's own `extra=`; empty values left out."""
    found = dict(_context.get() or {})
    for name in FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            found[name] = value
    return {k: v for k, v in found.items() if k in FIELDS and v not in (None, "")}


def redact(text: str) -> str:
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + "<redacted>", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        line.update(fields_of(record))
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the known fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        message = record.getMessage()
        # What the message already says (the access line's status, path, ...) is not repeated.
        extra = {k: v for k, v in fields_of(record).items() if str(v) not in message}
        if extra:
            line += " " + " ".join(f"{k}={json.dumps(v) if isinstance(v, str) and ' ' in v else v}"
                                   for k, v in extra.items())
        return line


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Idempotent root logger set-up for the console script."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Hypercorn's own chatter is noise at INFO, and so are the seven plugins Alembic names at every
    # start (the migrations it runs are still logged).
    for chatty in ("hypercorn.error", "alembic.runtime.plugins"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
