"""The command line as documented: every command the README (and bench/README.md, scripts/*.sh) shows parses with
the real parser, so a renamed flag or choice fails here; every command's `--help` works. Parsing only: nothing runs.

The README writes commands three ways: lines of fenced code blocks (`python -m oversight ...`), inline code spans
(`python -m oversight worker`) and the first cell of a command table (`study create --name NAME` / `study list`).
Templates use placeholders (`ID`, `N`, `PATH`), optional parts (`[--limit N]`), alternative values
(`within|between`) and alternative options (`--data PATH | --study ID`); each is expanded into the argv lists that
together use every alternative once.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from oversight.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
PREFIX = re.compile(r"^(?:\S*/)?python3? -m oversight\s+")  # python, .venv/bin/python
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")  # ID, N, PATH, VERSION_ID: stands for a value
VALUE_FOR = {"FMT": "jsonl", "FORMAT": "jsonl"}  # placeholders that must be one of the choices; others become "1"


def _lines(text: str) -> list[str]:
    """Commands that start a line (in code blocks): `\\` continues a line; a comment (` # ...`) and an output
    redirection (` > FILE`) are cut off. Fences are not relied on: one left open would hide every block after it."""
    commands, line = [], ""
    for raw in text.splitlines():
        line += raw.strip()
        if line.endswith("\\"):
            line = line[:-1] + " "
            continue
        if PREFIX.match(line):
            commands.append(re.split(r"\s+(?:#|>)", PREFIX.sub("", line, count=1))[0].strip())
        line = ""
    return commands


def _inline(text: str) -> list[str]:
    """Code spans (not fences) that give a `python -m oversight ...` command; a span may wrap onto a second line."""
    spans = re.findall(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)", text)
    return [PREFIX.sub("", " ".join(span.split()), count=1) for span in spans if PREFIX.match(span)]


def _tables(text: str) -> list[str]:
    """The first cell of each row of a table whose header starts with `command`: code spans separated by ` / `; a
    span that starts with a subcommand (`revise ...` after `rlaif labeller create ...`) takes the first span's
    command path."""
    commands, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = re.split(r"(?<!\\)\|", line)[1].strip()
        if first == "command":
            in_table = True
            continue
        spans = re.findall(r"`([^`]+)`", first)
        if not in_table or not spans:
            continue
        path = [w for w in spans[0].split()[:3] if not w.startswith("-")]
        for span in spans:
            commands.append(span if span.split()[0] == path[0] else " ".join([*path[:-1], span]))
    return commands


def _units(tokens: list[str]) -> list:
    """Tokens as a tree: an option with the values after it is one unit (a list); `[...]` is an optional group (a
    tuple); "|" between units makes the units on either side alternatives."""
    stack: list[list] = [[]]
    for raw in tokens:
        token = raw.strip("[]")
        stack += [[] for _ in range(len(raw) - len(raw.lstrip("[")))]
        seq = stack[-1]
        wants_value = bool(seq) and isinstance(seq[-1], list) and len(seq[-1]) == 1 and seq[-1][0].startswith("-")
        if token == "|":
            seq.append("|")
        elif token in ("...", "…") and not wants_value:
            pass  # more of the same (`--principle P ...`); but `--name …` is a value
        elif token:
            if token.startswith("-") or not seq or not isinstance(seq[-1], list):
                seq.append([token])
            else:
                seq[-1].append(token)
        for _ in range(len(raw) - len(raw.rstrip("]"))):
            group = tuple(stack.pop())
            stack[-1].append(group)
    assert len(stack) == 1, f"unbalanced brackets in {tokens}"
    return stack[0]


def _values(token: str) -> list[str]:
    """`within|between` is two values; a placeholder becomes a value that parses (`1`, or a choice where needed)."""
    return [VALUE_FOR.get(v, "1") if PLACEHOLDER.match(v) else v for v in token.split("|")]


def _points(seq: list) -> list[list[list[str]]]:
    """A sequence as choice points, each a list of alternative token lists. Optional groups are always given:
    parsing is what checks their flags."""
    points: list[list[list[str]]] = []
    join = False
    for unit in seq:
        if unit == "|":
            join = True
            continue
        if isinstance(unit, tuple):
            alternatives = [sum(picks, []) for picks in _picks(_points(list(unit)))]
        else:  # `--design within|between`: [--design within], [--design between]
            values = [_values(token) for token in unit]
            alternatives = [[v[min(i, len(v) - 1)] for v in values] for i in range(max(map(len, values)))]
        if join:
            points[-1] += alternatives
            join = False
        else:
            points.append(alternatives)
    return points


def _picks(points: list[list[list[str]]]) -> list[list[list[str]]]:
    """Enough picks that every alternative at every choice point is used once (not the full product)."""
    width = max((len(p) for p in points), default=1)
    return [[p[min(i, len(p) - 1)] for p in points] for i in range(width)]


def expand(template: str) -> list[list[str]]:
    """A documented command as the argv lists that together use each of its alternatives."""
    tokens = shlex.split(template.replace("\\|", "|"))
    return [sum(picks, []) for picks in _picks(_points(_units(tokens)))]


def _documented() -> list[tuple[str, str]]:
    """(where, command) for every command the docs show; `where` says "named" for a command only named in prose
    (`python -m oversight power`), which must exist but is not a whole invocation."""
    found = []
    for doc in ("README.md", "bench/README.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        found += [(doc, c) for c in _lines(text) + _tables(text)]
        found += [(doc if " -" in f" {c}" else f"{doc}, named", c) for c in _inline(text)]
    for script in sorted((REPO / "scripts").glob("*.sh")):
        found += [(f"scripts/{script.name}", c) for c in _lines(script.read_text(encoding="utf-8"))]
    return [(where, c) for where, c in dict.fromkeys(found) if c != "COMMAND"]  # COMMAND: the README's generic form


DOCUMENTED = _documented()
PARSER = build_parser()  # parsing leaves it unchanged, so the tests share one


def test_expand_covers_every_alternative():
    assert expand("study set --study ID [--design within\\|between] [--blind-review\\|--no-blind-review]") == [
        ["study", "set", "--study", "1", "--design", "within", "--blind-review"],
        ["study", "set", "--study", "1", "--design", "between", "--no-blind-review"]]
    assert expand("rlaif reward-model --data PATH | --study ID --labels dataset|ai:VERSION [--test PATH]") == [
        ["rlaif", "reward-model", "--data", "1", "--labels", "dataset", "--test", "1"],
        ["rlaif", "reward-model", "--study", "1", "--labels", "ai:VERSION", "--test", "1"]]


def test_the_docs_show_commands_in_every_form():
    """The extraction finds commands wherever the README writes them (a guard for this file's own parsing)."""
    commands = {c for _, c in DOCUMENTED}
    assert len(commands) > 60
    assert any(c.startswith("w2s run --dataset") and "--seeds N" in c for c in commands)  # a code block, 2 lines
    assert "worker" in commands  # an inline span
    assert any(c.startswith("simulate --study ID") and "--confidence 0.4" in c for c in commands)  # wraps a line
    assert any(c.startswith("rlaif labeller revise --parent") for c in commands)  # a table cell's second span
    assert any(c.startswith("attention set") for c in commands)  # the main command table
    assert ("scripts/start.sh", "seed-demo") in DOCUMENTED
    assert ("README.md, named", "power") in DOCUMENTED


@pytest.mark.parametrize(("where", "command"), DOCUMENTED, ids=[f"{w}: {c[:70]}" for w, c in DOCUMENTED])
def test_every_documented_command_parses(where, command, capsys):
    for argv in expand(command):
        try:
            args = PARSER.parse_args(argv)
        except SystemExit:
            if where.endswith("named"):
                _assert_help(argv, capsys)
                continue
            error = capsys.readouterr().err.strip().splitlines()[-1]
            raise AssertionError(f"{where}: `python -m oversight {shlex.join(argv)}` does not parse: {error}") from None
        assert callable(args.fn)


def _assert_help(path: list[str] | tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        PARSER.parse_args([*path, "--help"])
    assert exc.value.code == 0, f"`python -m oversight {' '.join(path)} --help` failed"
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(('python -m oversight', *path))}")


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(PARSER), ids=lambda p: " ".join(p) or "(top)")
def test_help_of_every_command(path, capsys):
    _assert_help(path, capsys)
