"""The CLI documents itself: every flag has help text, every flag that reads a WOPI_PROXY_* variable
names it in its help, and the README's environment table lists every such variable
(tools/flags_table.py generates the table: `python -m tools.flags_table --write`)."""

from __future__ import annotations

import re

import pytest

from tools import flags_table

FIX = "run `python -m tools.flags_table --write` to regenerate the README table"


def test_every_flag_and_argument_has_help_text() -> None:
    missing = [f"{path} {flags_table._flag(action)}" for path, action in flags_table.actions()
               if not (action.help or "").strip()]
    assert not missing, f"flags without help text: {missing}"


@pytest.mark.parametrize("name", sorted(flags_table.source_env_names() - set(flags_table.ENV_ONLY)))
def test_a_flag_that_reads_a_variable_names_it_in_its_help(name: str) -> None:
    """Setting the variable changes these flags' defaults: their help must say `env NAME`."""
    readers = flags_table.env_defaults(name)
    helps = {(path, flags_table._flag(action)): action.help or "" for path, action in flags_table.actions()}
    silent = sorted(f"{path} {flag}" for path, flag in readers if name not in helps[(path, flag)])
    assert not silent, f"{name} changes the default of {silent}, whose help does not name it"


def test_every_variable_the_code_reads_is_documented_by_a_flag_or_as_env_only() -> None:
    documented = {row.name for row in flags_table.rows()} | set(flags_table.ENV_ONLY)
    undocumented = sorted(flags_table.source_env_names() - documented)
    assert not undocumented, (f"{undocumented} are read by the code but named in no flag's help "
                              "(`env NAME`) nor in tools/flags_table.py ENV_ONLY")


def test_the_readme_table_lists_every_variable_and_its_flags() -> None:
    table = flags_table.readme_table(flags_table.README.read_text(encoding="utf-8"))
    lines = {match.group(1): line for line in table.splitlines()
             if (match := re.match(r"\|\s*`(WOPI_PROXY_\w+)`", line))}
    problems = []
    for row in flags_table.rows():
        if row.name not in lines:
            problems.append(f"{row.name} missing")
            continue
        problems += [f"{row.name}: {flag} missing" for flag in row.flags
                     if f"`{flag}`" not in lines[row.name]]
    problems += [f"{name} missing" for name in flags_table.ENV_ONLY if name not in lines]
    assert not problems, f"README environment table: {problems}; {FIX}"


def test_the_generated_table_has_one_row_per_variable() -> None:
    text = flags_table.markdown()
    names = re.findall(r"^\|\s*`(WOPI_PROXY_\w+)`", text, flags=re.M)
    assert len(names) == len(set(names))
    assert "WOPI_PROXY_PUBLIC_URL" in names and "WOPI_PROXY_CONTROL" in names
