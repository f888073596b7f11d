"""How autogenerate writes the models' types into a revision: as plain SQLAlchemy types, so that
a revision never imports application code (it must keep working as that code changes)."""

from __future__ import annotations

from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from sqlmodel.sql.sqltypes import AutoString

from control.secrets import EncryptedText


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Alembic's render_item hook; False leaves an item to Alembic's default rendering."""
    if type_ == "type" and isinstance(obj, EncryptedText):
        return "sa.Text()"  # Fernet tokens are text; the application encrypts and decrypts
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False
