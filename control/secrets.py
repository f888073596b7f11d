"""The control plane's secret key, and the encryption of stored storage options with it.

Where the key comes from, first match wins:
1. WOPI_PROXY_SECRET_KEY: a Fernet key (32 bytes, url-safe base64), for deployments that
   hand secrets through the environment;
2. ControlSettings.secret_key_file: a file holding such a key (must exist);
3. <data-dir>/secret.key, generated (mode 0600) on the first start and reused after.
Losing the key loses the stored storage options (their secrets cannot be read back).

Storage options are encrypted where they meet the database: the `options_json` column is an
EncryptedText, which encrypts on the way in and decrypts on the way out with the key bound to
the engine (bind_engine, called by start_control). Everything above the database sees
plain JSON; the database file, its WAL and its backups only ever hold Fernet tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Text, text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

from shared.errors import StartupRefused

log = logging.getLogger(__name__)

SECRET_KEY_ENV = "WOPI_PROXY_SECRET_KEY"
SECRET_KEY_FILE_NAME = "secret.key"
# Every Fernet token starts with its version byte 0x80 and a timestamp's leading zeros.
FERNET_TOKEN_PREFIX = "gAAAAA"


class SecretKeyError(StartupRefused, ValueError):
    """The configured key is missing, malformed, or not the one the data was encrypted with."""


@dataclass(frozen=True)
class SecretBox:
    """Encrypts and decrypts text with one Fernet key (AES-128-CBC plus HMAC-SHA256)."""

    fernet: Fernet
    source: str  # where the key came from, for messages (never the key itself)
    root: bytes = field(default=b"", repr=False, compare=False)  # the key's bytes, for derive()

    @classmethod
    def from_key(cls, key: str | bytes, source: str) -> SecretBox:
        try:
            stripped = key.strip()
            return cls(Fernet(stripped), source, base64.urlsafe_b64decode(stripped))
        except (ValueError, TypeError):
            raise SecretKeyError(f"the secret key from {source} is not a Fernet key "
                                 "(32 bytes in url-safe base64, as Fernet.generate_key() makes)") from None

    def derive(self, label: str) -> bytes:
        """A key of its own for `label` (e.g. the bridge's document ids), from this key: one
        secret to keep, and nothing derived reveals it or another label's key."""
        return hmac.new(self.root, b"wopi-proxy derive:" + label.encode(), hashlib.sha256).digest()

    def encrypt(self, text: str) -> str:
        return self.fernet.encrypt(text.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise SecretKeyError(f"stored secrets cannot be decrypted with the secret key from {self.source}"
                                 ": it is not the key they were encrypted with") from None


def load_secret_box(*, data_dir: Path, key_file: Path | None,
                    environ: Mapping[str, str] = os.environ) -> SecretBox:
    """The configured key (see the module docstring), generating <data-dir>/secret.key if needed."""
    if environ.get(SECRET_KEY_ENV):
        log.info("secret key: from %s", SECRET_KEY_ENV)
        return SecretBox.from_key(environ[SECRET_KEY_ENV], SECRET_KEY_ENV)
    if key_file is not None:
        log.info("secret key: from %s", key_file)
        return SecretBox.from_key(_read_key_file(key_file), str(key_file))
    path = data_dir / SECRET_KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    return SecretBox.from_key(_read_key_file(path), str(path))


def _read_key_file(path: Path) -> bytes:
    try:
        if path.stat().st_mode & 0o077:
            log.warning("the secret key file %s can be read by other users (chmod 600 it)", path)
        return path.read_bytes()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from None


def _create_key_file(path: Path) -> None:
    """Writes a new key beside `path`, then links it into place: the file appears complete or
    not at all, and of two processes starting at once on one data dir, one key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.link(temp, path)
    except FileExistsError:
        return
    finally:
        os.unlink(temp)
    log.info("secret key: generated %s (keep it with the database: without it, stored storage "
             "options cannot be read)", path)


# -- the database side ------------------------------------------------------------------------

# The box of each engine, looked up by the dialect SQLAlchemy hands to column types (each
# engine has its own dialect instance). Weak: a disposed and dropped engine frees its entry.
_BOXES: weakref.WeakKeyDictionary[Dialect, SecretBox] = weakref.WeakKeyDictionary()


def bind_engine(engine: AsyncEngine | Engine, box: SecretBox) -> None:
    """Makes EncryptedText columns of this engine (async or not) use `box`."""
    _BOXES[engine.sync_engine.dialect if isinstance(engine, AsyncEngine) else engine.dialect] = box


def _box(dialect: Dialect) -> SecretBox:
    box = _BOXES.get(dialect)
    if box is None:
        # An engine made outside start_control (tools, tests): a key that lives as long as
        # the engine, so that nothing is ever written in clear. Its data is not readable by
        # another engine; start_control always binds the configured key.
        box = _BOXES[dialect] = SecretBox(Fernet(Fernet.generate_key()), "a temporary key of this engine")
        log.warning("no secret key bound to this database engine: using a temporary one")
    return box


async def check_key(engine: AsyncEngine, box: SecretBox, *, table: str, column: str) -> None:
    """Raises SecretKeyError at start, rather than at the first request, when the key cannot
    decrypt what the database holds (another key, or the key file was replaced)."""
    query = text(f"SELECT {column} FROM {table} WHERE {column} LIKE '{FERNET_TOKEN_PREFIX}%' LIMIT 1")
    async with engine.connect() as conn:
        stored = (await conn.execute(query)).scalar()
    if stored is not None:
        box.decrypt(str(stored))


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token. A value that is not a token (written before the column
    was encrypted) is read as it is, and encrypted on its next write."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _box(dialect).encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        stored = str(value)
        if not stored.startswith(FERNET_TOKEN_PREFIX):
            return stored
        return _decrypt_cached(_box(dialect), stored)


# Decrypting a Fernet token (HMAC and AES) cost more than the rest of a grant's read. A token
# always decrypts to the same text under the same key, so the last few are kept by (key, token);
# a changed value is a new token, so nothing here can serve stale text.
_DECRYPTED_MAX = 256
_decrypted: dict[tuple[SecretBox, str], str] = {}  # the box itself: another key never matches


def _decrypt_cached(box: SecretBox, stored: str) -> str:
    key = (box, stored)
    plain = _decrypted.get(key)
    if plain is None:
        plain = box.decrypt(stored)
        if len(_decrypted) >= _DECRYPTED_MAX:
            _decrypted.clear()
        _decrypted[key] = plain
    return plain
