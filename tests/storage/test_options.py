"""Storage options: strings in, fsspec keyword arguments out; which ones are secret."""

from __future__ import annotations

import pytest

from shared.errors import InvalidArgument
from shared.storage import REDACTED, fsspec_kwargs, is_secret_option, redact_options
from shared.storage.options import with_kept_secrets


def test_s3_options_become_s3fs_arguments() -> None:
    kwargs = fsspec_kwargs("s3", {
        "endpoint_url": "http://127.0.0.1:8333", "key": "AK", "secret": "SK", "region": "eu-west-3",
        "anon": "false", "requester_pays": "1", "addressing_style": "path", "verify": "false",
        "max_concurrency": "2", "unknown_option": "kept",
    })
    assert kwargs == {
        "key": "AK", "secret": "SK", "anon": False, "requester_pays": True, "max_concurrency": 2,
        "unknown_option": "kept",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:8333", "region_name": "eu-west-3",
                          "verify": False},
        "config_kwargs": {"connect_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3},
                          "s3": {"addressing_style": "path"}},
        "use_listings_cache": False,
    }


def test_a_ca_bundle_path_is_kept_as_verify() -> None:
    kwargs = fsspec_kwargs("s3", {"verify": "/etc/ssl/ca.pem"})
    assert kwargs["client_kwargs"] == {"verify": "/etc/ssl/ca.pem"}


def test_a_listing_cache_may_still_be_asked_for() -> None:
    assert fsspec_kwargs("s3", {"use_listings_cache": "true"})["use_listings_cache"] is True


def test_other_protocols_only_get_booleans_converted() -> None:
    assert fsspec_kwargs("file", {"auto_mkdir": "False", "endpoint_url": "x"}) == {
        "auto_mkdir": False, "endpoint_url": "x"}


@pytest.mark.parametrize(("options", "named"), [
    ({"anon": "maybe"}, "anon"),
    ({"addressing_style": "sideways"}, "addressing_style"),
    ({"max_concurrency": "many"}, "max_concurrency"),
])
def test_malformed_options_are_invalid_arguments(options: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        fsspec_kwargs("s3", options)


@pytest.mark.parametrize("name", [
    "key", "secret", "token", "password", "access_key", "secret_key", "aws_access_key_id",
    "aws_secret_access_key", "session_token", "sas_token", "account_key", "accountKey", "credentials",
    "client_secret", "connection_string", "private_key", "passphrase", "SECRET",
])
def test_secret_option_names(name: str) -> None:
    assert is_secret_option(name)


@pytest.mark.parametrize("name", [
    "endpoint_url", "region", "anon", "auto_mkdir", "use_ssl", "account_name", "username", "keyword",
    "monkey", "addressing_style", "verify",
])
def test_ordinary_option_names(name: str) -> None:
    assert not is_secret_option(name)


def test_redaction_hides_secrets_and_passwords_in_urls() -> None:
    shown = redact_options({"key": "AK", "secret": "SK", "region": "eu",
                            "endpoint_url": "https://user:p4ss@s3.example.com/"})
    assert shown == {"key": REDACTED, "secret": REDACTED, "region": "eu",
                     "endpoint_url": f"https://user:{REDACTED}@s3.example.com/"}


STORED = {"key": "AKIA-operator", "secret": "operator-secret", "endpoint_url": "https://s3.example.com",
          "region": "eu-west-1"}


def test_a_redacted_secret_keeps_its_stored_value_for_the_same_destination() -> None:
    sent = {**STORED, "key": REDACTED, "secret": REDACTED, "region": "eu-central-1", "max_concurrency": "4"}

    kept = with_kept_secrets("s3", "bucket/docs", STORED, "s3", "bucket/docs", sent)

    assert kept == {**sent, "key": "AKIA-operator", "secret": "operator-secret"}


@pytest.mark.parametrize("change", [{"endpoint_url": "https://attacker.example"}, {"verify": "false"},
                                    {"endpoint_url": ""}, {"account_name": "theirs"}])
def test_a_redacted_secret_is_not_kept_once_the_endpoint_moves(change: dict[str, str]) -> None:
    """Attack: point the storage at a server of one's own and let the next request carry the
    credentials someone else entered."""
    sent = {**STORED, "key": REDACTED, "secret": REDACTED, **change}

    with pytest.raises(InvalidArgument) as refused:
        with_kept_secrets("s3", "bucket/docs", STORED, "s3", "bucket/docs", sent)

    assert "send the secret again" in refused.value.message
    assert "operator-secret" not in refused.value.message


def test_a_redacted_secret_is_not_kept_for_another_protocol() -> None:
    with pytest.raises(InvalidArgument):
        with_kept_secrets("s3", "bucket", STORED, "gcs", "bucket", {**STORED, "secret": REDACTED})


def test_secrets_sent_again_may_go_to_a_new_endpoint() -> None:
    sent = {**STORED, "endpoint_url": "https://other.example", "secret": "new-secret", "key": "AKIA-new"}

    assert with_kept_secrets("s3", "bucket/docs", STORED, "s3", "bucket/docs", sent) == sent


@pytest.mark.parametrize("root", ["operator-private", "s3://operator-private/docs", "/operator-private"])
def test_a_redacted_secret_is_not_kept_for_another_bucket(root: str) -> None:
    """Review m: the bucket is the destination too (on AWS's default addressing, part of the host)."""
    with pytest.raises(InvalidArgument):
        with_kept_secrets("s3", "tenant-bucket/docs", STORED, "s3", root, {**STORED, "secret": REDACTED})


def test_a_redacted_secret_is_kept_for_another_prefix_of_the_same_bucket() -> None:
    kept = with_kept_secrets("s3", "bucket/docs", STORED, "s3", "s3://bucket/archive", {**STORED, "secret": REDACTED})

    assert kept["secret"] == "operator-secret"


URL_STORED = {"key": "AKIA", "secret": "s", "endpoint_url": "https://user:p4ss@s3.example.com/"}


def test_sending_back_what_was_read_keeps_a_password_inside_an_endpoint_url() -> None:
    """Review m: reads show https://user:***@s3.example.com/; sent back as read, the stored URL stays."""
    sent = {**redact_options(URL_STORED), "region": "eu-central-1"}

    assert with_kept_secrets("s3", "b", URL_STORED, "s3", "b", sent) == {**URL_STORED, "region": "eu-central-1"}


def test_a_url_password_as_read_is_never_stored_as_three_stars() -> None:
    stored = {"anon": "true", "endpoint_url": "https://user:p4ss@s3.example.com/"}

    kept = with_kept_secrets("s3", "b", stored, "s3", "b", {**redact_options(stored), "max_concurrency": "4"})

    assert kept["endpoint_url"] == stored["endpoint_url"]


@pytest.mark.parametrize("sent", [{"secret": REDACTED}, {"endpoint_url": "https://user:***@elsewhere.example/"}])
def test_three_stars_for_a_secret_the_storage_does_not_hold_are_refused(sent: dict[str, str]) -> None:
    """Else "***" itself became the stored secret (or the URL's password)."""
    with pytest.raises(InvalidArgument):
        with_kept_secrets("s3", "b", {"anon": "true"}, "s3", "b", {"anon": "true", **sent})
