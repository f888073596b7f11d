"""The control plane's settings, built by the CLI (flags, then WOPI_PROXY_* environment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from control.db.engine import sqlite_url


@dataclass(frozen=True)
class ControlSettings:
    data_dir: Path
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    database_url: str | None = None  # default: SQLite file in data_dir
    wopi_base_url: str = "http://127.0.0.1:8000"  # the edge's public URL, for WOPISrc
    default_session_ttl_s: int = 10 * 3600
    # The key that encrypts stored storage options (control.secrets): a file holding a Fernet
    # key. None: <data_dir>/secret.key, generated on the first start. WOPI_PROXY_SECRET_KEY
    # (the key itself) overrides both.
    secret_key_file: Path | None = None
    # The write protocol (control.services.write_intents): an unconfirmed write that storage does
    # not hold is abandoned after this; a sweep resolves forgotten ones this often.
    write_intent_ttl_s: float = 60.0
    intent_sweep_interval_s: float = 30.0

    @property
    def effective_database_url(self) -> str:
        return self.database_url or sqlite_url(str(self.data_dir / "wopi-proxy.db"))
