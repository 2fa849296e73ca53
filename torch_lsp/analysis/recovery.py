"""Parsing a buffer that is being typed: keep what still parses.

While the user types, the buffer is often not valid Python (`x = self.` half
written, `nn.ModuleList(` not closed yet). The editor should keep showing the
problems of the rest of the file, so only the smallest statement that holds the
syntax error is taken out, and the rest is parsed; this repeats for a few errors.

The broken statement starts at the logical line that holds the error (the
tokenizer says where: a bracket left open makes the lines after it one logical
line) and ends before the next line indented as much as its first line or less:
an unclosed bracket swallows the lines after it, and those are kept; a broken
block header takes its body with it. Its lines become empty (every other line
keeps its number and columns) but for one *placeholder* statement on its first
line, at its indentation, that keeps what the statement did unknown instead of
undone: a deleted ``x = self.fc(x)`` would leave ``x`` with its previous shape,
a deleted ``super().__init__(`` would look never called. The placeholder assigns
an unknown value (a call of an undefined name) to each name the broken lines
assign or call a method on, calls ``super().__init__()`` when they do, calls a
method of ``self`` they call (``self.add_module(``) with unknown arguments, and
keeps a leading ``return``/``raise``/``yield``; a broken ``def`` becomes a
one-line ``def`` of the same name that returns the unknown value (else a base
class's method of that name would be taken for it), a broken ``class`` an unknown
name. When that does not parse either, or a triple quote has lost its pair (every
later one would then open a string where the intact text closes one), the
top-level statement holding the error is blanked (with its placeholder).

The result is a ``SourceFile`` whose ``text`` is the real buffer and whose
``tree`` covers the statements that parse, with ``problem`` set to the first
syntax error (the server reports it as TL000 unless ``reportSyntaxErrors`` is off);
``analysed_source`` gives the tree with the text it was parsed from, for the
analysis (which reads both).
"""
from __future__ import annotations

import bisect
import io
import re
import tokenize

from torch_lsp.analysis.source import SourceFile, _parse, split_lines

MAX_ROUNDS = 8
# What a placeholder assigns: a call of a name that is defined nowhere (unknown).
UNKNOWN = "__torch_lsp_unknown__()"
# The attribute of a recovered tree that holds the text it was parsed from.
RECOVERED_TEXT = "torch_lsp_recovered_text"
# A line that continues the statement above it even though it starts in column 0.
_CONTINUATION = re.compile(r"(else|elif|except|finally|case)\b|[)\]}]")
_CLOSING = re.compile(r"\s*[)\]}]")
_NAME = r"[A-Za-z_][A-Za-z_0-9]*(?:\s*\.\s*[A-Za-z_][A-Za-z_0-9]*)*"
# `a = `, `a.b, c = `, `a: int = `, `a += ` at the start of a line (not `==`)
_ASSIGN = re.compile(rf"\s*\(?\s*({_NAME}(?:\s*,\s*{_NAME})*)\s*,?\s*\)?\s*(?::[^=]*)?(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=)")
_FOR = re.compile(rf"\s*(?:async\s+)?for\s+\(?\s*({_NAME}(?:\s*,\s*{_NAME})*)")
_AS = re.compile(rf"\bas\s+({_NAME})")
_WALRUS = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\s*:=")
_DEF = re.compile(r"\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z_0-9]*)")
# `x.add_(...)`, `self.layers.append(...)`: the receiver may change
_METHOD_CALL = re.compile(rf"\s*({_NAME})\s*\.\s*([A-Za-z_][A-Za-z_0-9]*)\s*\(")
_SUPER = re.compile(r"\bsuper\s*\(|\.\s*__init__\s*\(")
_FLOW = re.compile(r"\s*(return|raise|yield)\b")
_KEYWORDS = frozenset({"self", "cls", "super", "None", "True", "False", "print", "assert", "del", "return", "yield",
                       "raise", "await", "import", "from", "global", "nonlocal", "pass", "lambda", "not", "in", "is",
                       "if", "else", "elif", "while", "for", "with", "try", "except", "finally", "def", "class", "and", "or",
                       "match", "case", "async", "break", "continue", "type"})


def parse_recovering(text: str, path: str | None = None) -> SourceFile:
    """``SourceFile.parse``, but with a syntax error the statements that do parse
    are kept (see the module docstring)."""
    src = SourceFile.parse(text, path)
    if src.tree is not None or src.problem is None or not src.problem.message.startswith("syntax error"):
        return src
    first_problem = src.problem
    lines = split_lines(text, keepends=True)
    # Every line ends in "\n" in the text that is parsed again: a blanked line next to
    # a lone "\r" must not make one "\r\n" of two line ends (every statement below
    # would move up a line). Columns are the same: a line end is not part of a line.
    work = [_content(line) + "\n" for line in lines]
    # the smallest statement first; then the top-level statement. A triple quote
    # without its pair (`"""` cut to `"`) makes every later one open a string where
    # the intact text closes one: code becomes a string and a string code, wherever
    # the broken statement ends; the top-level statement then goes whole.
    fine = not _odd_triple_quotes(text)
    for _ in range(MAX_ROUNDS):
        tree, problem = _parse("".join(work), path)
        if tree is not None:
            # the text that was parsed (the buffer's lines, the broken ones blanked or
            # holding a placeholder): what the analysis reads with the tree (analysed_source)
            setattr(tree, RECOVERED_TEXT, "".join(work))
            return SourceFile(text=text, path=path, tree=tree, problem=first_problem)
        if problem is None or not problem.message.startswith("syntax error"):
            break
        line = problem.range.start.line
        region = _statement_around(work, line, problem.message) if fine else None
        if region is not None and _odd_triple_quotes("".join(work[region[0]:region[1]])):
            region = None
        if region is None or not _changes(work, region):
            fine = False
            region = _top_level_around(work, line)
            if not _changes(work, region, top_level=True):
                break  # nothing left to blank there: give up
        _blank(work, *region, top_level=not fine)
    return src


def analysed_source(src: SourceFile) -> SourceFile:
    """What to analyse of a recovered ``src``: its tree with the text it was parsed
    from (the buffer's lines, the broken statements blanked or holding their
    placeholder), without the syntax error. The analysis reads the text too (which
    classes some code constructs, ``global`` statements): it must agree with the tree.
    Every line has the buffer's number, and every line that is not blanked its text."""
    text = getattr(src.tree, RECOVERED_TEXT, None) if src.tree is not None else None
    if text is None:
        return SourceFile(text=src.text, path=src.path, tree=src.tree, _lines=src._lines)
    return SourceFile(text=text, path=src.path, tree=src.tree)


def _odd_triple_quotes(text: str) -> bool:
    """Does ``text`` hold an odd number of triple double quotes, or of triple single
    quotes (roughly: in comments and strings too; it only decides how much to blank)?"""
    return text.count('"' * 3) % 2 == 1 or text.count("'" * 3) % 2 == 1


def _content(line: str) -> str:
    """A line without its line end."""
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith(("\n", "\r")):
        return line[:-1]
    return line


def _indent(line: str) -> int:
    return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip(" \t\x0c"))


def _is_code(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _logical_starts(work: list[str], start: int, upto: int) -> list[int]:
    """0-based lines in [start, upto] where a logical line (a statement) starts, as the
    tokenizer reads them from ``start`` (a top-level statement's first line): a line
    inside an open bracket or a string is none. Where the tokenizer gives up, what it
    read so far."""
    starts: list[int] = []
    at_start = True
    readline = io.StringIO("".join(work[start: upto + 1])).readline
    try:
        for tok in tokenize.generate_tokens(readline):
            if tok.type in (tokenize.NEWLINE, tokenize.NL):
                at_start = at_start or tok.type == tokenize.NEWLINE
                continue
            if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.COMMENT, tokenize.ENDMARKER):
                continue
            if at_start:
                starts.append(start + tok.start[0] - 1)
                at_start = False
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return starts


_AFTER_HEADER = re.compile(r"expected an indented block after .* on line (\d+)")


def _statement_around(work: list[str], line: int, message: str) -> tuple[int, int] | None:
    """The lines [lo, hi) of the smallest statement that holds the error on ``line``."""
    n = len(work)
    line = min(line, n - 1)
    header = _AFTER_HEADER.search(message)
    if header:  # `if x:` typed, its body not yet: the header is what is broken
        lo = int(header.group(1)) - 1
        if 0 <= lo <= line:
            return lo, _end(work, lo, line)
    # tokenized from the top-level statement holding the error (not the whole file:
    # ~0.5 s for 10,000 lines here)
    starts = _logical_starts(work, _top_level_around(work, line)[0], line)
    k = bisect.bisect_right(starts, line) - 1
    lo = starts[k] if k >= 0 else line
    while lo < n and not _is_code(work[lo]):
        lo += 1
    if lo >= n:
        return None
    # the definition under a decorator: from the decorator
    while lo > 0 and work[lo - 1].lstrip().startswith("@") and _indent(work[lo - 1]) == _indent(work[lo]):
        lo -= 1
    return lo, _end(work, lo, line)


def _end(work: list[str], lo: int, line: int) -> int:
    """The end (exclusive) of the statement starting on ``lo``: the next line of code
    indented as much as ``lo`` or less (not a closing bracket); past ``line`` when the
    error lies further down in the statement's own deeper lines."""
    base = _indent(work[lo])
    hi = lo + 1
    while hi < len(work):
        ln = work[hi]
        if _is_code(ln) and _indent(ln) <= base and not _CLOSING.match(ln):
            break
        hi += 1
    return max(hi, min(line + 1, len(work)) if line > lo and _indent(work[line]) > base else hi)


def _top_level_around(work: list[str], line: int) -> tuple[int, int]:
    """The lines [lo, hi) of the top-level statement holding ``line``: from the start
    at or before it to the next start. (Lines inside a triple-quoted string can look
    like starts too: blanking too much only loses some diagnostics for a moment.)"""
    starts = []
    after_decorator = False
    for i, ln in enumerate(work):
        if not ln or ln[0] in " \t\r\n#":
            continue
        if _CONTINUATION.match(ln):
            continue
        if after_decorator:
            after_decorator = ln.startswith("@")
            continue
        starts.append(i)
        after_decorator = ln.startswith("@")
    n = len(work)
    line = min(line, n - 1)
    k = bisect.bisect_right(starts, line) - 1
    lo = starts[k] if k >= 0 else 0
    hi = starts[k + 1] if k + 1 < len(starts) else n
    return lo, max(hi, line + 1)


def _changes(work: list[str], region: tuple[int, int], top_level: bool = False) -> bool:
    lo, hi = region
    while lo < hi and not _is_code(work[lo]):
        lo += 1
    return lo < hi and work[lo] != _placeholder(work, lo, hi, top_level)


def _blank(work: list[str], lo: int, hi: int, top_level: bool = False) -> None:
    """Blank lines [lo, hi), with the placeholder on the first line of code (in
    column 0 for a top-level statement)."""
    while lo < hi and not _is_code(work[lo]):
        lo += 1
    if lo >= hi:
        return
    placeholder = _placeholder(work, lo, hi, top_level)
    for i in range(lo, hi):
        work[i] = "\n"
    work[lo] = placeholder


def _placeholder(work: list[str], lo: int, hi: int, top_level: bool = False) -> str:
    """One line, at the indentation of line ``lo``, that makes unknown what lines
    [lo, hi) assign or change (see the module docstring)."""
    first = work[lo]
    lead = "" if top_level else first[: len(first) - len(first.lstrip(" \t\x0c"))]
    targets: list[str] = []
    calls: list[str] = []  # `self.add_module(...)`: the same call, its arguments unknown
    calls_super = False
    for i in range(lo, hi):
        ln = work[i]
        if _is_code(ln):
            m = _METHOD_CALL.match(ln)
            if m and not _ASSIGN.match(ln) and m.group(1).split(".")[0].strip() in ("self", "cls"):
                receiver = re.sub(r"\s+", "", m.group(1))
                call = f"{receiver}.{m.group(2)}(*{UNKNOWN}, **{UNKNOWN})"
                if call not in calls:
                    calls.append(call)
            found: list[str] = []
            for pattern in (_ASSIGN, _FOR, _DEF, _METHOD_CALL):
                m = pattern.match(ln)
                if m:
                    found += m.group(1).split(",")
            found += _AS.findall(ln) + _WALRUS.findall(ln)
            for t in found:
                t = re.sub(r"\s+", "", t)
                if t and t.split(".")[0] not in _KEYWORDS or "." in t and t.split(".")[0] in ("self", "cls"):
                    if t not in targets and t not in ("self", "cls"):
                        targets.append(t)
            calls_super = calls_super or bool(_SUPER.search(ln))
    c = re.match(r"\s*class\s+([A-Za-z_][A-Za-z_0-9]*)", first)
    if c:  # a class being typed: its name is unknown (its body is a scope of its own)
        return f"{lead}{c.group(1)} = {UNKNOWN}\n"
    d = re.match(r"\s*(?:async\s+)?def\s+([A-Za-z_][A-Za-z_0-9]*)", first)
    if d:
        # a function being typed: it is there (else a base class's method of that name
        # would be taken for it), and what it does to `self` is unknown
        params = "self, *args, **kwargs" if lead else "*args, **kwargs"
        own = [t for t in targets if t.startswith(("self.", "cls."))]
        body = (["super().__init__()"] if calls_super else []) + calls
        if own:
            body.append(" = ".join(own) + " = " + UNKNOWN)
        return f"{lead}def {d.group(1)}({params}): " + "; ".join(body + [f"return {UNKNOWN}"]) + "\n"
    parts = []
    if targets:
        parts.append(" = ".join(targets) + " = " + UNKNOWN)
    if calls_super:
        parts.append("super().__init__()")
    parts += calls
    flow = _FLOW.match(first)
    if flow:
        parts.append(f"{flow.group(1)} {UNKNOWN}")
    return lead + ("; ".join(parts) or "pass") + "\n"
