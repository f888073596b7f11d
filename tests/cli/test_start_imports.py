"""What a command imports is what it runs: an edge process and the client verbs start without the
control plane's modules (SQLAlchemy, SQLModel, Alembic and the services: about a second and a half
of every start), a control process without the edge's (Quart, Hypercorn, the bridge: half a second).
Checked in a fresh interpreter, as the console script starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTROL_ONLY = ("control", "sqlalchemy", "sqlmodel", "alembic", "aiosqlite", "psycopg")
EDGE_ONLY = ("edge", "gateway", "quart", "hypercorn", "flask", "werkzeug")


def _loaded_after(statement: str, watched: tuple[str, ...] = CONTROL_ONLY) -> set[str]:
    probe = (f"import sys, json; {statement}; "
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(watched)!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_the_edge_command_loads_none_of_the_control_plane() -> None:
    # What `wopi-proxy edge` imports before it runs: the parser, the runner and the edge's settings.
    assert _loaded_after("import cli.main, cli.run, edge.settings, edge.app, gateway, cli.workers; "
                         "cli.main.build_parser().parse_args(['edge'])") == set()


def test_a_client_verb_loads_none_of_the_control_plane() -> None:
    assert _loaded_after("import cli.main; cli.main.build_parser().parse_args(['tenants', 'list'])") == set()


def test_the_control_command_loads_none_of_the_edge() -> None:
    # What `wopi-proxy control` imports before it runs: the parser, the runner and the control plane.
    assert _loaded_after("import cli.main, cli.run, control.server, control.settings; "
                         "cli.main.build_parser().parse_args(['control'])", EDGE_ONLY) == set()


def test_the_control_command_still_loads_the_control_plane() -> None:
    """The probe can see the modules it looks for (else the tests above could not fail)."""
    assert {"control", "sqlalchemy"} <= _loaded_after("import cli.run, control.server")


def test_the_serve_command_still_loads_the_edge() -> None:
    assert {"edge", "quart", "hypercorn"} <= _loaded_after("import cli.run, edge.app, edge.server", EDGE_ONLY)
