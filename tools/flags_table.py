"""The README's table of WOPI_PROXY_* environment variables, generated from the argparse trees.

`python -m tools.flags_table` prints the table; `--write` replaces it in README.md between the
`<!-- env-table:start -->` and `<!-- env-table:end -->` markers. tests/cli/test_flags_table.py fails
when a flag that reads an environment variable is missing from the README's table, when a flag has
no help text, or when a flag reads a variable its help does not name.

A flag "reads" a variable when its help says `env WOPI_PROXY_X` (the rule of cli/main.py), or when
setting the variable changes the flag's default (found by `env_defaults`, so a forgotten mention
is caught too). Variables that no flag reads (tests, image builds) are listed in ENV_ONLY.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- env-table:start -->", "<!-- env-table:end -->"
ENV_NAME = re.compile(r"WOPI_PROXY_[A-Z0-9]+(?:_[A-Z0-9]+)*")
# Source trees whose WOPI_PROXY_* names the table must cover (tests/ only set them).
SOURCE_DIRS = ("cli", "control", "edge", "gateway", "shared", "tools")

# Variables no flag reads: what they do, where.
ENV_ONLY = {
    "WOPI_PROXY_FAILPOINTS": "tests only: `point=kill|exit|error,...` crashes a process at a named step "
                             "(shared/failpoints.py)",
    "WOPI_PROXY_REQUIRE_POSTGRES": "tests: `1` makes the PostgreSQL tests fail instead of skip "
                                   "(set by `.ci/run`)",
    "WOPI_PROXY_REQUIRE_S3": "tests: `1` makes the S3 (SeaweedFS) tests fail instead of skip",
    "WOPI_PROXY_REQUIRE_BROWSER": "tests: `1` makes the headless-Chromium tests fail instead of skip",
    "WOPI_PROXY_REQUIRE_IMAGES": "tests: `1` makes the container image tests fail instead of skip "
                                 "(and `tools/system_deps.sh` install podman)",
    "WOPI_PROXY_IMAGES_BASE": "tests/images: build on this base image instead of the local Debian one",
    "WOPI_PROXY_CACHE_DIR": "`make images`: podman storage and the local base image "
                            "(default `~/.cache/wopi-proxy`)",
    "WOPI_PROXY_DEBIAN_MIRROR": "`make images`: the Debian mirror debootstrap uses",
}


@dataclass
class EnvRow:
    """One environment variable: the flags that read it, per command, and their help."""
    name: str
    flags: dict[str, list[str]] = field(default_factory=dict)  # flag -> commands
    defaults: list[str] = field(default_factory=list)  # without the variable set, per command
    help: str = ""


def _cli_parser() -> argparse.ArgumentParser:
    from cli.main import build_parser
    return build_parser()


def _gateway_parser() -> argparse.ArgumentParser:
    from gateway.__main__ import build_parser
    return build_parser()


PROGRAMS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "wopi-proxy": _cli_parser, "python -m gateway": _gateway_parser}


def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    """Every option and positional of a parser and of its sub-commands, with the command's path."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def actions() -> Iterator[tuple[str, argparse.Action]]:
    for program, build in PROGRAMS.items():
        yield from walk(build(), program)


def _flag(action: argparse.Action) -> str:
    return max(action.option_strings, key=len) if action.option_strings else action.dest


def source_env_names() -> set[str]:
    """WOPI_PROXY_* names the code reads (prefixes built at run time excluded)."""
    names: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if "gen" in path.relative_to(ROOT).parts or path == Path(__file__).resolve():
                continue
            names.update(ENV_NAME.findall(path.read_text(encoding="utf-8")))
    return names


def env_defaults(name: str) -> set[tuple[str, str]]:
    """(command, flag) pairs whose default changes when `name` is set: the flags that read it."""
    def defaults() -> dict[tuple[str, str], object]:
        return {(path, _flag(action)): action.default for path, action in actions() if action.option_strings}

    clean = {key: value for key, value in os.environ.items() if not key.startswith("WOPI_PROXY_")}
    changed: set[tuple[str, str]] = set()
    with mock.patch.dict(os.environ, clean, clear=True):
        before = defaults()
        # "7" is a number, a path, a list item and a true flag at once; a strict boolean variable
        # refuses it, and is probed with both of its values instead.
        for probe in ("7", "1", "0"):
            os.environ[name] = probe
            try:
                after = defaults()
            except SystemExit:
                continue
            changed |= {key for key in before if before[key] != after.get(key)}
            if probe == "7":
                break
    return changed


def _command(path: str) -> str:
    """`serve`, `tenants add`, ...; options of the program itself: `(global)` or the program's name."""
    for program in PROGRAMS:
        if path == program:
            return "(global)" if program == "wopi-proxy" else program
        if path.startswith(program + " "):
            return path[len(program) + 1:]
    return path


def _default(value: object) -> str:
    if value is None or value is False or value == [] or value is argparse.SUPPRESS:
        return ""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def rows() -> list[EnvRow]:
    """One row per variable a flag's help names (`env NAME`), with the defaults of a clean environment."""
    table: dict[str, EnvRow] = {}
    clean = {key: value for key, value in os.environ.items() if not key.startswith("WOPI_PROXY_")}
    with mock.patch.dict(os.environ, clean, clear=True):
        found = list(actions())
    for path, action in found:
        if not action.option_strings:
            continue
        for name in dict.fromkeys(ENV_NAME.findall(action.help or "")):
            row = table.setdefault(name, EnvRow(name))
            row.flags.setdefault(_flag(action), []).append(_command(path))
            default = _default(action.default)
            if default and default not in row.defaults:
                row.defaults.append(default)
            if not row.help:
                row.help = _short_help(action.help or "")
    return sorted(table.values(), key=lambda row: row.name)


def _short_help(text: str) -> str:
    """The help without its `(env ...)` aside, for the table."""
    text = re.sub(r"\s*\((?:env|Env)[^()]*(?:\([^()]*\)[^()]*)*\)", "", text)
    text = re.sub(r";?\s*env WOPI_PROXY_\w+", "", text)
    return " ".join(text.split()).replace("|", "\\|")


def _commands(commands: list[str]) -> str:
    unique = list(dict.fromkeys(commands))
    return ", ".join(f"`{name}`" for name in unique)


def markdown() -> str:
    lines = ["| Environment | Flag | Commands | Default | What |", "| --- | --- | --- | --- | --- |"]
    for row in rows():
        flags = "<br>".join(f"`{flag}`" for flag in row.flags)
        commands = _commands([cmd for cmds in row.flags.values() for cmd in cmds])
        defaults = " / ".join(f"`{value}`" for value in row.defaults)
        lines.append(f"| `{row.name}` | {flags} | {commands} | {defaults} | {row.help} |")
    for name, text in ENV_ONLY.items():
        lines.append(f"| `{name}` | (none) | | | {text.replace('|', chr(92) + '|')} |")
    return "\n".join(lines)


def readme_table(text: str) -> str:
    """The table part of the README (between the markers)."""
    if START not in text or END not in text:
        raise ValueError(f"README.md has no {START} ... {END} section")
    return text.split(START, 1)[1].split(END, 1)[0]


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    readme_table(text)
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{markdown()}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.flags_table", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args(argv)
    if args.write:
        write_readme()
    else:
        sys.stdout.write(markdown() + "\n")


if __name__ == "__main__":
    main()
