"""The pieces under the process tests: operation names, label mapping, log formatting."""

from __future__ import annotations

import json
import logging

from edge.metrics import PROOF_REASONS, proof_reason_label, protocol_label
from edge.wopi import operations, routes
from shared import logs


def test_operation_names_cover_exactly_the_override_tables() -> None:
    """Every override the routes serve has a name, and no name exists for one they do not."""
    assert set(operations.FILE_OPERATIONS) == set(routes.FILE_OVERRIDES)
    assert set(operations.CONTENTS_OPERATIONS) == set(routes.CONTENTS_OVERRIDES)


def test_operation_of_requests() -> None:
    of = operations.operation_of
    assert of("GET", "/wopi/files/abc", "") == "CheckFileInfo"
    assert of("GET", "/wopi/files/abc/contents", "") == "GetFile"
    assert of("POST", "/wopi/files/abc/contents", "put") == "PutFile"
    assert of("POST", "/wopi/files/abc", "LOCK") == "Lock"
    assert of("POST", "/wopi/files/abc", "LOCK", old_lock=True) == "UnlockAndRelock"
    assert of("POST", "/wopi/files/abc", "GET_SHARE_URL") == "unknown"
    assert of("POST", "/wopi/files/abc", "tenant-t-1234") == "unknown"
    assert of("GET", "/wopi/files/abc/ancestry", "") == "unknown"
    assert of("GET", "/wopi/folders/abc", "") == "unknown"


def test_labels_from_hostile_values_are_bounded() -> None:
    assert protocol_label("s3") == "s3"
    assert protocol_label("tenant-made-up-protocol") == "other"
    for text, label in PROOF_REASONS:
        assert proof_reason_label(text + " and more") == label
    assert proof_reason_label("t-1234 something") == "other"


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("wopi_proxy.test", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_bound_and_extra_fields() -> None:
    with logs.bind(request_id="r-1", tenant="t-1"):
        logs.annotate(operation="Lock")
        line = json.loads(logs.JsonFormatter().format(_record("hello", status=409, secret_field="x")))
    assert line["message"] == "hello" and line["level"] == "INFO" and line["logger"] == "wopi_proxy.test"
    assert (line["request_id"], line["tenant"], line["operation"], line["status"]) == ("r-1", "t-1", "Lock", 409)
    assert "secret_field" not in line  # only the known fields


def test_formatters_blank_what_looks_like_a_credential() -> None:
    """A token that slips into a message (a URL with its query, an Authorization header) is blanked."""
    message = "GET /wopi/files/x?access_token=abcdef123&x=1 Authorization: Bearer key-secret-1"
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        text = formatter.format(_record(message))
        assert "abcdef123" not in text and "key-secret-1" not in text, text
        assert "access_token=<redacted>" in text


def test_text_lines_do_not_repeat_what_the_message_says() -> None:
    with logs.bind(request_id="r-9"):
        text = logs.TextFormatter().format(_record("GET /wopi/files/x 200", status=200, method="GET"))
    assert text.endswith("GET /wopi/files/x 200 request_id=r-9"), text


def test_log_format_flag_before_and_after_service_commands() -> None:
    """--log-format is global, and also accepted after serve/control/edge (Docker CMD style)."""
    from cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["--log-format", "json", "tenants", "list"]).log_format == "json"
    for command in ("serve", "control", "edge"):
        assert parser.parse_args([command, "--log-format", "json"]).log_format == "json"
    assert parser.parse_args(["serve", "--metrics-port", "0"]).metrics_port == 0
    assert parser.parse_args(["control"]).metrics_port is None
