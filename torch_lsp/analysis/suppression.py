"""Line suppression comments.

``# torch-lsp: ignore[TL101, TL102]`` or ``# noqa: TL101`` ignore those codes on the
line; a bare ``# torch-lsp: ignore`` or ``# noqa`` ignores every torch-lsp
diagnostic on the line. A code list that names only other tools' codes (``# noqa:
E501``) ignores nothing of ours. A diagnostic is suppressed by a comment on its
first or its last line (so a multi-line statement can carry it after the closing
bracket).
"""
from __future__ import annotations

import re

from torch_lsp.analysis.diagnostics import Diagnostic
from torch_lsp.analysis.source import split_lines

_COMMENT = re.compile(
    r"#\s*(?:torch-lsp\s*:\s*ignore(?:\s*\[(?P<codes1>[^\]]*)\])?|noqa(?:\s*:\s*(?P<codes2>[A-Za-z0-9_,\s]+))?)",
    re.IGNORECASE,
)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")
ALL = "*"


def suppressions(text: str) -> dict[int, set[str]]:
    """0-based line -> suppressed codes (or {"*"}). Only lines holding a marker are scanned."""
    result: dict[int, set[str]] = {}
    if "torch-lsp" not in text and "noqa" not in text and "NOQA" not in text:
        return result
    for lineno, line in enumerate(split_lines(text)):  # lines as Python numbers them (not at \x0c, U+2028)
        if "#" not in line:
            continue
        for m in _COMMENT.finditer(line):
            codes = m.group("codes1") if m.group("codes1") is not None else m.group("codes2")
            entry = result.setdefault(lineno, set())
            if codes is None or not codes.strip():
                entry.add(ALL)
            else:
                entry.update(c.upper() for c in _CODE.findall(codes))
    return result


def statement_lines(tree: object) -> dict[int, tuple[int, int]]:
    """0-based line -> (first, last) line of the multi-line simple statement that
    covers it (``x = nn.Sequential(\n ...\n)``), for suppression comments placed
    after the closing bracket."""
    import ast

    out: dict[int, tuple[int, int]] = {}
    if not isinstance(tree, ast.AST):
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not hasattr(node, "body"):
            first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
            if last > first:
                for line in range(first, last + 1):
                    out.setdefault(line, (first, last))
    return out


def is_suppressed(diag: Diagnostic, table: dict[int, set[str]], statements: dict[int, tuple[int, int]] | None = None) -> bool:
    lines = {diag.range.start.line, diag.range.end.line}
    if statements:
        for line in list(lines):
            if line in statements:
                lines.update(statements[line])
    for line in lines:
        codes = table.get(line)
        if codes and (ALL in codes or diag.code in codes):
            return True
    return False
