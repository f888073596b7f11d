"""Kill loop: N PutFiles, each killed (kill -9, by failpoint) at a random step of the edge or the
control plane, the killed process restarted, and the result checked: does what the database, the
audit trail and the events say match what storage holds? Prints the number of mismatches.

    .venv/bin/python bench/kill_loop.py --rounds 50 [--database-url postgresql+psycopg://...] [--seed 1]

Each round uses a fresh deployment (with a PostgreSQL URL, a new database on that server per round). See tests/faults/crash_rig.py for the rig and control/services/write_intents.py for the
protocol under test.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import secrets
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from tests.faults.crash_rig import CONTROL_POINTS, EDGE_POINTS, crash_put_file, mismatches


def _fresh_database(url: str | None, round_number: int) -> str | None:
    """A new database per round on the server of `url` (each round's control plane makes its own
    keys and secret key, as a fresh deployment does); None keeps SQLite."""
    if url is None:
        return None
    import sqlalchemy

    name = f"kill_loop_{round_number}_{secrets.token_hex(4)}"
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(sqlalchemy.engine.make_url(url).set(database=name).render_as_string(hide_password=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--size", type=int, default=1 << 20, help="bytes of each save (default 1 MiB)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite per round)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    points = sorted({**EDGE_POINTS, **CONTROL_POINTS})
    bad = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kill-loop-") as folder:
        for n in range(args.rounds):
            point = rng.choice(points)
            outcome, new, rig, status = crash_put_file(pathlib.Path(folder) / f"r{n}", point,
                                                       database_url=_fresh_database(args.database_url, n),
                                                       size=args.size)
            rig.stop()
            found = mismatches(outcome, new)
            if status == 200 and outcome.stored != new:
                found.append("the editor was told 200 for bytes storage does not hold")
            bad += bool(found)
            state = "new bytes" if outcome.stored == new else "old bytes"
            print(f"round {n:3d} {point:32s} editor got {status}  storage: {state}, version {outcome.version}"
                  + (f"  MISMATCH: {found}" if found else ""), flush=True)
    print(f"{args.rounds} kills, {bad} mismatches ({time.monotonic() - started:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
