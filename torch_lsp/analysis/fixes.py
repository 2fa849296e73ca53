"""Applying fixes to text: shared by ``check --fix``, the server's fix-all and tests."""
from __future__ import annotations

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
