"""A cheap outline of a dependency file: function bodies blanked out.

Resolving a class in another file (is ``PreTrainedModel`` an ``nn.Module``?) needs
that file's imports, class headers and class-level statements, never the bodies of
its functions: methods of other files are not interpreted (see
``interpreter.FOLLOW_OTHER_FILES``). Parsing is the dominant cost of following
imports, and function bodies are most of a file, so a dependency is parsed from
its outline: each function body becomes ``...`` on its first line and blank lines
after it. Line numbers and columns of everything kept are those of the file.

The outline is found line by line (indentation), skipping the insides of
triple-quoted strings. It is a shortcut, never a source of errors: when the
outline does not parse, the caller parses the whole file.
"""
from __future__ import annotations

import re

_DEF = re.compile(r"[ \t]*(?:async[ \t]+)?def[ \t]")
# A triple quote, a comment, or a one-line string (so that quotes inside those two
# are stepped over).
_TOKEN = re.compile(
    r"'''|\"\"\"|#[^\n]*"
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
)
_TRIPLES = ("'''", '"""')


def _string_lines(text: str, starts: list[int]) -> set[int]:
    """0-based numbers of the lines that begin inside a triple-quoted string.
    Comments and one-line strings are stepped over so that quotes inside them do
    not count (a wrong guess makes the outline fail to parse; the caller falls back)."""
    import bisect

    inside: set[int] = set()
    pos = 0
    search = _TOKEN.search
    while True:
        m = search(text, pos)
        if m is None:
            return inside
        tok = m.group()
        if tok in _TRIPLES:
            end = text.find(tok, m.end())
            while end > 0 and text[end - 1] == "\\" and (end < 2 or text[end - 2] != "\\"):
                end = text.find(tok, end + 1)
            if end < 0:
                return inside
            first = bisect.bisect_right(starts, m.start()) - 1
            last = bisect.bisect_right(starts, end) - 1
            inside.update(range(first + 1, last + 1))
            pos = end + 3
        else:
            pos = m.end()


def outline(text: str) -> str | None:
    """The text with function bodies blanked (same number of lines), or None when
    nothing would be removed."""
    lines = text.splitlines(keepends=True)
    if len(lines) < 50:
        return None
    starts = []
    pos = 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln)
    in_string = _string_lines(text, starts)
    out = list(lines)
    removed = 0
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if i in in_string or not _DEF.match(line):
            i += 1
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        # the header: up to the line where brackets close and it ends with ':'
        depth = 0
        j = i
        while j < n:
            code = lines[j].split("#", 1)[0]
            for ch in code:
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    depth -= 1
            if depth <= 0 and code.rstrip().endswith(":"):
                break
            j += 1
        if j >= n:
            return None
        header_end = j
        # a body on the header line (`def f(): return 1`) is kept as it is
        body_start = header_end + 1
        k = body_start
        last_body = header_end
        while k < n:
            ln = lines[k]
            stripped = ln.strip()
            if k in in_string:  # the rest of a string the body started
                last_body = k
                k += 1
                continue
            if not stripped or stripped.startswith("#"):
                k += 1
                continue
            ind = len(ln) - len(ln.lstrip(" \t"))
            if ind <= indent:
                break
            last_body = k
            k += 1
        if last_body > header_end:
            first = next((x for x in range(body_start, last_body + 1) if lines[x].strip() and x not in in_string and not lines[x].strip().startswith("#")), None)
            if first is None:  # the header scan went astray (`def f(): r"""...`): parse the whole file
                return None
            body_indent = lines[first][: len(lines[first]) - len(lines[first].lstrip(" \t"))]
            for x in range(body_start, last_body + 1):
                end = "\n" if lines[x].endswith("\n") else ""
                if lines[x].endswith("\r\n"):
                    end = "\r\n"
                out[x] = (body_indent + "...") + end if x == first else end
                removed += 1
        i = last_body + 1
    if not removed:
        return None
    return "".join(out)
