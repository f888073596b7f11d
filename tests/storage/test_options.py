"""Storage options: strings in, fsspec keyword arguments out; which ones are secret."""

from __future__ import annotations

import pytest

from shared.errors import InvalidArgument
from shared.storage import REDACTED, fsspec_kwargs, is_secret_option, redact_options


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
