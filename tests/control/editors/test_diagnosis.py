"""Each finding of `wopi-proxy doctor editor`, passing and failing, on the real discovery fixtures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils

import pytest

from control.editors import diagnosis
from control.editors.diagnosis import (
    address_class,
    check_actions,
    check_clock,
    check_discovery_fetch,
    check_editor_allow_list,
    check_product,
    check_proof_failures,
    check_proof_keys,
    check_public_url_reachable,
    check_scheme,
    check_stored_copy,
    diagnose,
    editor_hosts,
    worst,
)
from control.editors.discovery import Action, Discovery
from tests.control.editors.support import parsed

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def _date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def _with_urls(discovery: Discovery, old: str, new: str) -> Discovery:
    """The same document with its action URLs' base replaced (an editor named otherwise)."""
    actions = tuple(dataclasses.replace(a, urlsrc=a.urlsrc.replace(old, new)) for a in discovery.actions)
    return dataclasses.replace(discovery, actions=actions)


# -- discovery fetch ---------------------------------------------------------------------------------


def test_a_fetched_discovery_is_ok() -> None:
    assert check_discovery_fetch("https://office.example.com/hosting/discovery", None).severity == "ok"


@pytest.mark.parametrize(("error", "hint"), [
    ("timed out after 15 s fetching https://x/hosting/discovery", "reachable from the control plane"),
    ("not XML: the response is an HTML page", "login page"),
    ("HTTP status 404 from https://x/hosting/discovery", "wopi.enable"),
])
def test_a_failed_fetch_fails_with_a_fix_for_its_cause(error: str, hint: str) -> None:
    finding = check_discovery_fetch("https://x/hosting/discovery", error)
    assert finding.severity == "fail" and error in finding.detail and hint in finding.fix


# -- actions and product ---------------------------------------------------------------------------------


def test_an_editor_with_view_and_edit_for_the_common_formats_is_ok() -> None:
    finding = check_actions(parsed("collabora"))
    assert finding.severity == "ok", finding


def test_missing_formats_are_a_warning_naming_them() -> None:
    finding = check_actions(parsed("onlyoffice"))  # the trimmed document: Word and Excel only
    assert finding.severity == "warn"
    assert "pptx" in finding.summary and "odt" in finding.summary


def test_an_editor_for_none_of_the_common_formats_fails() -> None:
    only_pdf = Discovery(actions=(Action(app="Pdf", name="view", ext="pdf", urlsrc="https://e.example.com/v?"),),
                         proof_key=None, old_proof_key=None, product="other")
    assert check_actions(only_pdf).severity == "fail"


def test_view_only_formats_are_a_warning() -> None:
    view_only = Discovery(actions=tuple(Action(app="A", name="view", ext=e, urlsrc="https://e.example.com/v?")
                                        for e in diagnosis.COMMON_EXTENSIONS),
                          proof_key=None, old_proof_key=None, product="other")
    finding = check_actions(view_only)
    assert finding.severity == "warn" and "view only for docx" in finding.summary


def test_a_known_product_is_ok_and_an_unknown_one_a_warning() -> None:
    assert check_product(parsed("collabora")).severity == "ok"
    assert check_product(dataclasses.replace(parsed("collabora"), product="other")).severity == "warn"


# -- proof keys --------------------------------------------------------------------------------------------


def _by_check(findings: list[diagnosis.Finding]) -> dict[str, diagnosis.Finding]:
    return {f.check: f for f in findings}


def test_rotated_proof_keys_are_ok() -> None:
    found = _by_check(check_proof_keys(parsed("validator"), "if-advertised"))
    assert found["proof-keys"].severity == "ok"
    assert found["proof-key-rotation"].severity == "ok" and "rotated" in found["proof-key-rotation"].summary
    assert "proof-key-stock" not in found


def test_missing_proof_keys_with_policy_required_fail() -> None:
    [finding] = check_proof_keys(parsed("collabora"), "required")
    assert finding.severity == "fail" and "proof_key" in finding.fix  # Collabora's own key file


def test_missing_proof_keys_when_advertised_would_be_checked_warn() -> None:
    [finding] = check_proof_keys(parsed("collabora"), "if-advertised")
    assert finding.severity == "warn"


def test_missing_proof_keys_with_checks_off_are_ok() -> None:
    [finding] = check_proof_keys(parsed("collabora"), "off")
    assert finding.severity == "ok"


def test_advertised_keys_left_unchecked_warn() -> None:
    assert _by_check(check_proof_keys(parsed("validator"), "off"))["proof-keys"].severity == "warn"


def test_onlyoffices_stock_key_warns() -> None:
    found = _by_check(check_proof_keys(parsed("onlyoffice"), "if-advertised"))
    assert found["proof-key-stock"].severity == "warn" and "local.json" in found["proof-key-stock"].fix
    assert "never rotated" in found["proof-key-rotation"].summary


def test_a_stored_copy_with_other_keys_warns() -> None:
    finding = check_stored_copy(parsed("microsoft365"), parsed("validator"), fetch_time=NOW, fetch_error="",
                                now=NOW)
    assert finding.severity == "warn" and "editors refresh" in finding.fix


def test_a_stored_copy_with_the_same_keys_is_ok() -> None:
    finding = check_stored_copy(parsed("validator"), parsed("validator"), fetch_time=NOW - dt.timedelta(hours=1),
                                fetch_error="", now=NOW)
    assert finding.severity == "ok"


def test_a_stored_copy_whose_refresh_fails_warns() -> None:
    finding = check_stored_copy(parsed("validator"), parsed("validator"), fetch_time=NOW - dt.timedelta(days=3),
                                fetch_error="timed out", now=NOW)
    assert finding.severity == "warn" and "timed out" in finding.detail


def test_no_stored_copy_fails() -> None:
    assert check_stored_copy(None, parsed("validator"), fetch_time=None, fetch_error="", now=NOW).severity == "fail"


def test_no_recent_proof_failures_is_ok() -> None:
    assert check_proof_failures({}, hours=24).severity == "ok"


def test_signature_failures_point_at_the_reverse_proxy() -> None:
    finding = check_proof_failures({"signature does not match the current or old key": 3}, hours=24)
    assert finding.severity == "warn" and "3 WOPI request(s)" in finding.summary
    assert "--public-url" in finding.fix and "--trust-forwarded-headers" in finding.fix and "NTP" not in finding.fix


def test_timestamp_failures_point_at_the_clocks() -> None:
    finding = check_proof_failures({"timestamp too old": 1, "timestamp in the future": 2}, hours=24)
    assert "NTP" in finding.fix and "2 × timestamp in the future" in finding.detail


# -- clocks -------------------------------------------------------------------------------------------------


def _clock(offset_s: float) -> diagnosis.Finding:
    return check_clock(_date(NOW + dt.timedelta(seconds=offset_s)), sent=NOW, received=NOW + dt.timedelta(
        milliseconds=300), who="office.example.com")


def test_agreeing_clocks_are_ok() -> None:
    assert _clock(0).severity == "ok"
    assert _clock(30).severity == "ok"


@pytest.mark.parametrize("offset_s", [90, -90])
def test_a_minute_and_a_half_of_skew_warns(offset_s: float) -> None:
    finding = _clock(offset_s)
    assert finding.severity == "warn" and "NTP" in finding.fix


def test_an_editor_clock_six_minutes_ahead_fails_as_proofs_are_in_the_future() -> None:
    finding = _clock(360)
    assert finding.severity == "fail" and "ahead" in finding.summary and "future" in finding.detail


def test_an_editor_clock_half_an_hour_behind_fails_as_proofs_are_too_old() -> None:
    finding = _clock(-1800)
    assert finding.severity == "fail" and "behind" in finding.summary and "older than 20 min" in finding.detail


def test_an_editor_clock_ten_minutes_behind_fails_as_the_margin_is_gone() -> None:
    assert _clock(-600).severity == "fail"


@pytest.mark.parametrize("header", [None, "", "yesterday at noon", "Mon, 99 Foo 2024 99:99:99 GMT"])
def test_a_missing_or_unreadable_date_header_warns(header: str | None) -> None:
    assert check_clock(header, sent=NOW, received=NOW, who="x").severity == "warn"


# -- addresses ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "loopback"), ("localhost", "loopback"), ("::1", "loopback"), ("[::1]", "loopback"),
    ("app.localhost", "loopback"), ("0.0.0.0", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.1.10", "private"), ("172.20.0.5", "private"), ("169.254.169.254", "private"),
    ("100.64.1.1", "private"), ("fd00::1", "private"), ("collabora", "private"), ("office.internal", "private"),
    ("nas.local", "private"), ("collabora.test", "private"),
    ("office.example.org", "public"), ("93.184.216.34", "public"), ("2606:4700::1", "public"),
])
def test_addresses_are_classed_by_where_they_can_be_reached_from(host: str, expected: str) -> None:
    assert address_class(host) == expected


def test_a_loopback_public_url_fails_for_an_editor_elsewhere() -> None:
    finding = check_public_url_reachable("http://127.0.0.1:8000", ["127.0.0.1", "office.example.org"])
    assert finding.severity == "fail"
    assert "--public-url https://<name the editor can reach>" in finding.fix and "office.example.org" in finding.summary


def test_a_private_public_url_fails_for_a_public_editor() -> None:
    assert check_public_url_reachable("https://wopi.corp", ["office.example.org"]).severity == "fail"


def test_a_private_public_url_is_ok_for_a_private_editor() -> None:
    assert check_public_url_reachable("http://10.0.0.2:8000", ["collabora.internal"]).severity == "ok"


def test_a_loopback_public_url_is_ok_for_an_editor_on_this_machine_with_a_container_caveat() -> None:
    finding = check_public_url_reachable("http://127.0.0.1:8000", ["127.0.0.1", "localhost"])
    assert finding.severity == "ok" and "container" in finding.detail


def test_a_public_url_without_a_host_fails() -> None:
    assert check_public_url_reachable("not a url", ["office.example.org"]).severity == "fail"


def test_editor_hosts_include_the_discovery_url_and_the_action_urls() -> None:
    hosts = editor_hosts("http://127.0.0.1:9980/hosting/discovery", parsed("collabora"))
    assert hosts == ["127.0.0.1", "collabora.test"]


# -- schemes and allow-lists ---------------------------------------------------------------------------------


def test_an_https_host_page_with_an_http_editor_fails_as_mixed_content() -> None:
    finding = check_scheme("https://wopi.example.org", parsed("collabora"))  # http://collabora.test:9980
    assert finding.severity == "fail" and "mixed content" in finding.detail


def test_an_http_host_page_with_an_https_editor_warns() -> None:
    https_collabora = _with_urls(parsed("collabora"), "http://collabora.test:9980", "https://office.example.org")
    assert check_scheme("http://wopi.example.org", https_collabora).severity == "warn"


def test_an_http_wopisrc_for_microsoft_365_fails() -> None:
    assert check_scheme("http://wopi.example.org", parsed("microsoft365")).severity == "fail"


def test_matching_schemes_are_ok() -> None:
    assert check_scheme("https://wopi.example.org", parsed("microsoft365")).severity == "ok"
    assert check_scheme("http://127.0.0.1:8000", parsed("collabora")).severity == "ok"


def test_collabora_gets_the_allow_list_hint_with_the_host() -> None:
    finding = check_editor_allow_list("collabora", "https://wopi.example.org")
    assert finding is not None and finding.severity == "ok"
    assert "storage.wopi.host" in finding.fix and "aliasgroup1=https://wopi.example.org:443" in finding.fix
    assert check_editor_allow_list("microsoft", "https://wopi.example.org") is None


# -- the whole ------------------------------------------------------------------------------------------------


def test_hostile_values_are_printed_harmlessly() -> None:
    finding = check_clock("\x1b[31mMon\x00" + "x" * 500, sent=NOW, received=NOW, who="x")
    assert "\x1b" not in finding.detail and "\x00" not in finding.detail and len(finding.detail) < 120


def test_diagnose_without_a_fresh_document_still_checks_the_stored_one() -> None:
    findings = diagnose(discovery_url="https://office.example.org/hosting/discovery", policy="if-advertised",
                        public_url="http://127.0.0.1:8000", fresh=None, fetch_error="timed out after 15 s",
                        date_header=None, sent=NOW, received=NOW, stored=parsed("validator"),
                        stored_fetch_time=NOW, stored_fetch_error="")
    checks = [f.check for f in findings]
    assert checks[0] == "discovery-fetch" and "clock-skew" not in checks and "proof-keys" in checks
    assert worst(findings) == "fail"


def test_diagnose_of_a_healthy_editor_has_no_failure() -> None:
    local = _with_urls(parsed("validator"), "https://wopi-validator.invalid", "http://127.0.0.1:9980")
    findings = diagnose(discovery_url="http://127.0.0.1:9980/hosting/discovery", policy="if-advertised",
                        public_url="http://127.0.0.1:8000", fresh=local, fetch_error=None,
                        date_header=_date(NOW), sent=NOW, received=NOW, stored=local,
                        stored_fetch_time=NOW, stored_fetch_error="")
    assert worst(findings) == "warn", findings  # odt: the validator's document has no OpenDocument apps
    assert [f.check for f in findings if f.severity != "ok"] == ["actions"]
