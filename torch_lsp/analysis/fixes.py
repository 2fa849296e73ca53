"""Applying fixes to text: shared by ``check --fix``, the server's fix-all and tests.

``fix_all`` is the one loop both shells run: the preferred fix of each diagnostic,
round after round (a fix can reveal the next problem), with the file's own line
breaks, stopping before any round that would leave text Python cannot parse.
"""
from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Callable

from torch_lsp.analysis.source import split_lines
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Fix, TextEdit


def _lines(text: str) -> tuple[list[int], list[int]]:
    """Each line's start offset and the length of its content (line end excluded)."""
    starts, lengths = [], []
    pos = 0
    for line in split_lines(text, keepends=True):
        starts.append(pos)
        lengths.append(len(line.rstrip("\r\n")) if line.endswith(("\r", "\n")) else len(line))
        pos += len(line)
    return starts, lengths


def apply_edits(text: str, edits: list[TextEdit] | tuple[TextEdit, ...]) -> str:
    """Apply non-overlapping edits (positions in code points, 0-based; a column past a
    line's end is its end, a line past the last the end of the text: the LSP's rule)."""
    starts, lengths = _lines(text)

    def offset(line: int, col: int) -> int:
        if line >= len(starts):
            return len(text)
        return starts[line] + min(max(col, 0), lengths[line])

    for e in sorted(edits, key=lambda e: (e.range.start, e.range.end), reverse=True):
        a, b = offset(e.range.start.line, e.range.start.character), offset(e.range.end.line, e.range.end.character)
        text = text[:a] + e.new_text + text[b:]
    return text


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    return not (a.range.end <= b.range.start or b.range.end <= a.range.start)


def select_fixes(diagnostics: list[Diagnostic], unsafe: bool = False) -> list[Fix]:
    """The preferred fix of each diagnostic, dropping any whose edits overlap an
    earlier chosen one (a second run picks those up)."""
    chosen: list[Fix] = []
    taken: list[TextEdit] = []
    for d in sorted(diagnostics, key=Diagnostic.sort_key):
        fix = next((f for f in d.fixes if unsafe or f.applicability is Applicability.SAFE), None)
        if fix is None or any(_overlaps(e, t) for e in fix.edits for t in taken):
            continue
        chosen.append(fix)
        taken.extend(fix.edits)
    return chosen


def apply_fixes(text: str, fixes: list[Fix]) -> str:
    return apply_edits(text, [e for f in fixes for e in f.edits])


MAX_FIX_ROUNDS = 10
_NEWLINE = re.compile(r"\r\n|\r|\n")


def newline_of(text: str) -> str:
    """The text's line break (its first one; ``\\n`` for a text without any)."""
    found = _NEWLINE.search(text)
    return found.group(0) if found else "\n"


def with_newline(chosen: list[Fix], newline: str) -> list[Fix]:
    """Fixes whose inserted line breaks match the file's (a CRLF file stays CRLF)."""
    if newline == "\n":
        return chosen

    def convert(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\n", newline)

    return [Fix(f.title, tuple(TextEdit(e.range, convert(e.new_text)) for e in f.edits), f.applicability) for f in chosen]


def parse_problem(text: str) -> str | None:
    """None when ``text`` is valid Python, else why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
        return None
    except SyntaxError as exc:
        return f"{exc.msg} at line {exc.lineno}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return type(exc).__name__


@dataclass
class FixRun:
    """What ``fix_all`` did: the text it ends with, how many fixes it applied, the
    diagnostics of that text (from the last check) and, when it stopped because a
    round would have left invalid Python, why and which fixes (that round is not
    applied)."""

    text: str
    applied: int
    diagnostics: list
    problem: str | None = None
    refused: tuple[str, ...] = ()


def fix_all(text: str, diagnostics: list, recheck: Callable[[str], list], unsafe: bool = False,
            max_rounds: int = MAX_FIX_ROUNDS) -> FixRun:
    """Apply the preferred fix of every diagnostic (safe ones only unless ``unsafe``),
    check the result again with ``recheck(text) -> diagnostics`` and repeat, until
    nothing changes or ``max_rounds`` rounds. Inserted line breaks follow the text's."""
    newline = newline_of(text)
    run = FixRun(text, 0, diagnostics)
    for _ in range(max_rounds):
        chosen = select_fixes(run.diagnostics, unsafe=unsafe)
        if not chosen:
            break
        new = apply_fixes(run.text, with_newline(chosen, newline))
        if new == run.text:
            break
        problem = parse_problem(new)
        if problem is not None:
            run.problem, run.refused = problem, tuple(f.title for f in chosen)
            break
        run.text, run.applied = new, run.applied + len(chosen)
        run.diagnostics = recheck(new)
    return run
