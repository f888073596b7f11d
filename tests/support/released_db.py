"""The first release's databases (tests/fixtures/released_db, made by its own code: make.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from control.secrets import SecretBox

RELEASED = Path(__file__).resolve().parents[1] / "fixtures" / "released_db"
# A TEST FIXTURE, not a secret: the key the fixtures' storage options were encrypted with.
FIXTURE_KEY = (RELEASED / "secret.key").read_text().strip()
FIXTURE_BOX = SecretBox.from_key(FIXTURE_KEY, "the test fixture key")


def load_released(url: str) -> None:
    """Makes the empty database at `url` (a SQLite file path or an empty PostgreSQL database) the
    first release's fixture database."""
    if url.startswith("sqlite"):
        shutil.copyfile(RELEASED / "released.db", url.partition(":///")[2])
        return
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute((RELEASED / "released-postgresql.sql").read_text())  # type: ignore[arg-type]
