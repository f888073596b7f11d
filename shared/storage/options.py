"""Storage options: the API's map<string, string> turned into fsspec keyword arguments, and the
one rule that says which options are secrets.

Options arrive as strings (gRPC map<string, string>, the CLI's --option KEY=VALUE). fsspec
backends want typed keyword arguments, and some want them nested (s3fs reads the endpoint and
the region from `client_kwargs`). The coercion here is deliberately small and explicit: the
names below are converted, every other option is passed through unchanged, as a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import InvalidArgument

__all__ = ["REDACTED", "fsspec_kwargs", "is_secret_option", "keep_stored", "redact_options", "with_kept_secrets"]

REDACTED = "***"

# fsspec options (common to several backends) whose value is a boolean.
_BOOLEAN_OPTIONS = frozenset({
    "anon", "auto_mkdir", "fixed_upload_size", "requester_pays", "skip_instance_cache", "use_listings_cache",
    "use_ssl", "version_aware",
})
# ... and whose value is a whole number (s3fs: parts sent in parallel).
_INTEGER_OPTIONS = frozenset({"max_concurrency"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})

S3_PROTOCOLS = frozenset({"s3", "s3a"})
# s3fs options that botocore wants inside client_kwargs / config_kwargs.
_S3_CLIENT_OPTIONS = {"endpoint_url": "endpoint_url", "region": "region_name", "region_name": "region_name"}
_S3_ADDRESSING_STYLES = frozenset({"auto", "path", "virtual"})


def _boolean(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidArgument("options", f"option {name!r} is true or false, not {value!r}")


def _integer(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidArgument("options", f"option {name!r} is a whole number, not {value!r}") from None


def fsspec_kwargs(protocol: str, options: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for fsspec.filesystem(protocol, **kwargs); raises InvalidArgument."""
    kwargs: dict[str, Any] = {}
    for name, value in options.items():
        if name in _BOOLEAN_OPTIONS:
            kwargs[name] = _boolean(name, value)
        elif name in _INTEGER_OPTIONS:
            kwargs[name] = _integer(name, value)
        else:
            kwargs[name] = value
    if protocol in S3_PROTOCOLS:
        _s3(kwargs)
    return kwargs


def _s3(kwargs: dict[str, Any]) -> None:
    client: dict[str, Any] = {}
    for name, target in _S3_CLIENT_OPTIONS.items():
        if name in kwargs:
            client[target] = kwargs.pop(name)
    if "verify" in kwargs:  # "false" for a self-signed endpoint, or the path of a CA bundle
        verify = kwargs.pop("verify")
        client["verify"] = _boolean("verify", verify) if verify.strip().lower() in _TRUE | _FALSE else verify
    if client:
        kwargs["client_kwargs"] = client
    # botocore waits 60 s for a connection by default and tries 5 times, and s3fs tries each call 5
    # times again: a dead endpoint held a save for over a minute, past its write's publish window.
    # Here a storage call ends within about 3 x (connect 5 s or the read timeout) (fsspec_storage's
    # S3_CALL_ATTEMPTS is s3fs's share).
    config: dict[str, Any] = {"connect_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}
    style = kwargs.pop("addressing_style", None)
    if style is not None:  # "path" for S3-compatible servers without virtual-host buckets
        if style not in _S3_ADDRESSING_STYLES:
            raise InvalidArgument("options",
                                  f"option 'addressing_style' is auto, path or virtual, not {style!r}")
        config["s3"] = {"addressing_style": style}
    kwargs["config_kwargs"] = config
    # A long-running proxy must see objects changed by others: no cached listings.
    kwargs.setdefault("use_listings_cache", False)


# -- secrets ------------------------------------------------------------------------------------

# The rule: an option is secret when one of the words of its name (split at '_', '-', '.' and
# camelCase) is one of these, or when the whole name is one of _SECRET_NAMES. "key" covers
# s3fs's key, access_key, secret_key, account_key, sas_key...; over-redacting a harmless
# option only hides it from reads, never from the edge.
_SECRET_WORDS = frozenset({
    "secret", "password", "passwd", "pwd", "passphrase", "token", "key", "credential", "credentials",
    "sas", "signature", "auth", "authorization", "cookie", "private",
})
_SECRET_NAMES = frozenset({"connection_string", "connectionstring"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# user:password@ inside a URL-valued option (an endpoint with credentials in it).
_URL_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/@\s]*@")
_READ_URL_PASSWORD = re.compile(r"://[^/@:\s]*:" + re.escape(REDACTED) + "@")  # a URL's password as reads show it


def is_secret_option(name: str) -> bool:
    words = {w.lower() for w in _WORD.findall(name)}
    return bool(words & _SECRET_WORDS) or name.lower().replace("-", "_") in _SECRET_NAMES


def redact_options(options: Mapping[str, str]) -> dict[str, str]:
    """What a read may show: secret options replaced by REDACTED, passwords cut out of URLs."""
    return {name: REDACTED if is_secret_option(name) else _URL_PASSWORD.sub(rf"\1:{REDACTED}@", value)
            for name, value in options.items()}


# Options that tune how a storage is used, never where its requests go: a secret kept by REDACTED
# survives their change. Any other option (endpoint_url, region, verify, an account or host name, a
# backend option we do not know) is taken to name the destination.
_TUNING_OPTIONS = frozenset({
    "max_concurrency", "fixed_upload_size", "use_listings_cache", "skip_instance_cache", "auto_mkdir",
    "addressing_style", "region", "region_name",  # the same endpoint, or the same provider's other region
})


_LEADING_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def bucket_of(protocol: str, root: str) -> str:
    """The part of an object store's root that names where its requests go (the bucket or
    container, on some stores part of the host name; an S3 access point's ARN up to its name);
    a local root names none. A root that still holds `://` after its leading scheme is not one
    whose bucket we can name: the whole of it stands for the destination."""
    if protocol in ("file", "local"):
        return ""
    path = _LEADING_SCHEME.sub("", root.strip()).lstrip("/")
    if "://" in path:
        return path
    parts = path.split("/")
    return "/".join(parts[:2]) if path.startswith("arn:") else parts[0]


def _holds_secrets(options: Mapping[str, str]) -> list[str]:
    return sorted(name for name, value in options.items() if is_secret_option(name) or _URL_PASSWORD.search(value))


def _check_same_place(kept: Sequence[str], moved: list[str], stored_protocol: str, stored_root: str, protocol: str,
                      root: str) -> None:
    if bucket_of(protocol, root) != bucket_of(stored_protocol, stored_root):
        moved.insert(0, "root (its bucket)")
    if protocol != stored_protocol:
        moved.insert(0, "protocol")
    if kept and moved:
        raise InvalidArgument("options", f"{', '.join(sorted(kept))} kept as stored ({REDACTED}) cannot go along: "
                                         f"{', '.join(moved)} changed where the storage's requests go; "
                                         "send the secret again")


def keep_stored(stored_protocol: str, stored_root: str, stored: Mapping[str, str], protocol: str,
                root: str) -> dict[str, str]:
    """The stored options, for an update that sends none: their secrets stay only if the protocol
    and the bucket stay (with_kept_secrets' rule)."""
    _check_same_place(_holds_secrets(stored), [], stored_protocol, stored_root, protocol, root)
    return dict(stored)


def with_kept_secrets(stored_protocol: str, stored_root: str, stored: Mapping[str, str], protocol: str,
                      root: str, sent: Mapping[str, str]) -> dict[str, str]:
    """`sent` with each value given as it was read (a secret option as REDACTED, a URL with its
    password as `://user:***@`) replaced by its stored value, so that a reader can send back what
    it read and change one option.

    A stored secret is kept only for the same destination: the same protocol, the same bucket on
    an object store, and the same value of every option but the tuning ones. Otherwise whoever may
    edit the storage could move it to a server or bucket of their own and have the next request
    carry the credentials someone else entered (an operator's key on a tenant's storage, say): the
    secret must be sent again."""
    kept = sorted(name for name, value in sent.items() if name in stored and value != stored[name]
                  and value == redact_options({name: stored[name]})[name] and REDACTED in value)
    unread = sorted(name for name in set(sent) - set(kept) if sent[name] != stored.get(name)
                    and ((is_secret_option(name) and sent[name] == REDACTED) or _READ_URL_PASSWORD.search(sent[name])))
    if unread:
        raise InvalidArgument("options", f"{', '.join(unread)}: {REDACTED} stands for a stored secret this "
                                         "storage does not hold; send the secret itself")
    moved = sorted(name for name in set(stored) | set(sent)
                   if name not in kept and not is_secret_option(name) and name not in _TUNING_OPTIONS
                   and stored.get(name) != sent.get(name))
    _check_same_place(kept, moved, stored_protocol, stored_root, protocol, root)
    return {name: stored[name] if name in kept else value for name, value in sent.items()}
