"""A file's import statements, anywhere in it (the top level, functions, ``if`` and
``try`` blocks): what its analysis can follow into other files. The batch check's
cache (``torch_lsp/cache.py``) keys a file's result on the project files reachable
from it this way; a file read only for its imports is scanned, not parsed."""
from __future__ import annotations

import ast
import re


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def import_statements(tree: ast.Module) -> list[ast.stmt]:
    """The file's import statements, anywhere in it (the top level, functions, ``if``
    and ``try`` blocks), in order. Only statements are walked, not expressions: cheap
    next to the parse."""
    out: list[ast.stmt] = []
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        else:
            for name in _BODIES:
                children = getattr(node, name, None)
                if children:
                    stack.extend(reversed(children))
    return out


# A statement that may be an import: at the start of a line, or after `;` or `:` (a
# one-line `if x: import y`). Found in the text, not the tree, so a file read only for
# its imports is not parsed whole.
_LINE_START = re.compile(r"^[ \t]*(?:from|import)[ \t.]", re.M)
_AFTER_COLON = re.compile(r"[;:][ \t]*(?:from|import)[ \t.]")  # (two searches: one alternation is 3x slower)


_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*\Z")


def _simple(line: str) -> ast.stmt | None:
    """``import a.b as c, d`` / ``from .m import x as y, z`` on one line, read without the
    parser (None: anything else, for ``ast.parse``)."""
    if line.startswith("import "):
        names = [part.split()[0] if part.split() else "" for part in line[7:].split(",")]
        if names and all(_NAME.match(n) for n in names):
            return ast.Import(names=[ast.alias(name=n) for n in names])
        return None
    head, sep, tail = line.partition(" import ")
    if not sep or not head.startswith("from "):
        return None
    module = head[5:].strip()
    level = len(module) - len(module.lstrip("."))
    module = module[level:]
    if module and not _NAME.match(module):
        return None
    names = [part.split()[0] if part.split() else "" for part in tail.split(",")]
    if not names or not all(n == "*" or _NAME.match(n) for n in names):
        return None
    return ast.ImportFrom(module=module or None, names=[ast.alias(name=n) for n in names], level=level)


_TOP_LEVEL_NAME = re.compile(r"^(?:(?:async[ \t]+)?def|class)[ \t]+(\w+)|^(\w+)[ \t]*(?::[^=\n]*)?=(?!=)", re.M)


def top_level_names(text: str) -> set[str]:
    """Names a file's text defines in column 0 (``class X``, ``def f``, ``X = ...``), by a
    scan (a name in a string that looks like one counts too)."""
    return {m.group(1) or m.group(2) for m in _TOP_LEVEL_NAME.finditer(text)}


def scanned_statements(text: str) -> list[ast.stmt]:
    """A file's import statements found by a scan of its text, without parsing the file
    (so also any in a string that looks like one: more modules, never fewer), each
    parsed on its own."""
    statements: list[ast.stmt] = []
    starts = [m.start() for m in _LINE_START.finditer(text)] + [m.start() + 1 for m in _AFTER_COLON.finditer(text)]
    for start in sorted(starts):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if not any(c in line for c in "([{\\;#"):  # the usual one-line statement
            pieces = line
        else:
            pieces = None
        if pieces is not None:
            simple = _simple(pieces.strip())
            if simple is not None:
                statements.append(simple)
                continue
            try:
                statements.extend(ast.parse(pieces.strip()).body)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                pass
            continue
        end, depth = start, 0
        while end < len(text):
            ch = text[end]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "\\" and end + 1 < len(text) and text[end + 1] == "\n":
                end += 2
                continue
            elif ch in "\n;#" and depth <= 0:
                break
            end += 1
        piece = text[start:end].strip()
        try:
            statements.extend(ast.parse(piece).body)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return statements
