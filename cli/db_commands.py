"""`wopi-proxy db upgrade|current`: the database schema's revision (control.db.schema), read and
upgraded directly in the database, as the control plane's operator (no API key involved)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a db verb runs: every other command starts without them
    from control.db.schema import SchemaState
    from control.settings import ControlSettings


def add_db_commands(commands: Any, database: argparse.ArgumentParser) -> None:
    db = commands.add_parser("db", help="the database schema: its revision, upgrades").add_subparsers(
        dest="verb", required=True)
    db.add_parser("upgrade", parents=[database],
                  help="upgrade the schema to this release's (creates it in an empty database)").set_defaults(
        db_handler=db_upgrade)
    db.add_parser("current", parents=[database],
                  help="print the schema's revision, and the one this release needs").set_defaults(
        db_handler=db_current)


def _settings(args: argparse.Namespace) -> ControlSettings:
    from control.settings import ControlSettings

    return ControlSettings(data_dir=args.data_dir, database_url=args.database_url,
                           secret_key_file=args.secret_key_file)


def db_current(args: argparse.Namespace) -> None:
    settings = _settings(args)
    sqlite = settings.sqlite_path
    if sqlite is not None and not sqlite.exists():
        raise SystemExit(f"error: no database at {sqlite}")
    print(_describe(asyncio.run(_read(settings.effective_database_url))))


def db_upgrade(args: argparse.Namespace) -> None:
    settings = _settings(args)
    before = asyncio.run(_upgrade(settings))
    if before.up_to_date:
        print(f"the database schema is at {before.head}, this release's: nothing to do")
    else:
        print(f"upgraded the database schema from {before.describe()} to {before.head}")


def _describe(state: SchemaState) -> str:
    if state.up_to_date:
        return state.describe()
    return f"{state.describe()}; this release needs {state.head}"


async def _read(url: str) -> SchemaState:
    from control.db.engine import create_engine
    from control.db.schema import read_state

    engine = create_engine(url)
    try:
        return await read_state(engine)
    finally:
        await engine.dispose()


async def _upgrade(settings: ControlSettings) -> SchemaState:
    """As the control plane's start would with --migrate: same files, same key (a migration may
    encrypt a column with it)."""
    from control.db.engine import create_engine
    from control.db.schema import upgrade
    from control.files_at_rest import prepare_data_dir, prepare_sqlite_file
    from control.secrets import bind_engine, load_secret_box

    prepare_data_dir(settings.data_dir)
    box = load_secret_box(data_dir=settings.data_dir, key_file=settings.secret_key_file)
    prepare_sqlite_file(settings.sqlite_path)
    engine = create_engine(settings.effective_database_url)
    bind_engine(engine, box)
    try:
        return await upgrade(engine, box)
    finally:
        await engine.dispose()


__all__ = ["add_db_commands"]
