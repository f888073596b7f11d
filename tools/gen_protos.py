"""Regenerate the Python code of protos/ into shared/gen (run: `make protos`).

The staleness test calls generate() into a temporary folder and compares, so the output
must depend on nothing but protos/ and the grpcio-tools version.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
DEFAULT_OUT = ROOT / "shared" / "gen"


def _googleapis_include() -> str:
    """The folder holding google/api/*.proto (shipped inside googleapis-common-protos)."""
    import google.api

    return os.path.dirname(os.path.dirname(list(google.api.__path__)[0]))


def proto_files() -> list[pathlib.Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate(out: pathlib.Path) -> list[pathlib.Path]:
    """Runs protoc for every proto under protos/ and adds the package __init__.py files."""
    import grpc_tools
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    builtin = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{_googleapis_include()}",
        f"-I{builtin}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for folder in {(out / f).parent for f in files}:
        while folder != out:
            (folder / "__init__.py").touch()
            folder = folder.parent
    return sorted(p for p in out.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    generated = generate(parser.parse_args().out)
    print(f"generated {len(generated)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
