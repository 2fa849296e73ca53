"""Turning check results into text: the CLI's output formats.

Every formatter takes the per-file outcomes in the order they should appear and
returns a string; nothing here reads files or runs the analysis. Positions are
converted at this edge from 0-based to 1-based lines and columns (code points).
"""
from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote

from torch_lsp import __version__
from torch_lsp.analysis.diagnostics import Applicability, Diagnostic, Fix, Position, Range, Severity
from torch_lsp.analysis.source import split_lines

FORMATS = ("full", "concise", "json", "sarif", "github")
MACHINE_FORMATS = ("json", "sarif", "github")
INFORMATION_URI = "https://pypi.org/project/torch-lsp/"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class FileOutcome:
    """What checking (and maybe fixing) one file produced."""

    path: str  # as displayed: the command-line path joined with the path below it
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lines: dict[int, str] = field(default_factory=dict)  # 0-based line -> text, for the lines diagnostics start on
    fixed: int = 0  # fixes applied (--fix) or that would be applied (--diff)
    diff: str = ""  # unified diff (--diff)
    fixed_source: bytes | None = None  # --fix of standard input: the fixed source, for standard output
    error: str | None = None  # one line: the file could not be checked or written
    warning: str | None = None  # one line: the file was skipped
    traceback: str | None = None  # of an internal error, for --debug
    # A notebook's cell map (analysis.notebook.NotebookModule): positions are printed
    # as a cell and a line in it (see ``cell_range``).
    notebook: Any = None
    # The nodes to store in the batch check's cache (torch_lsp/cache.py), made where the
    # file was checked and written by the process that started the run.
    cache_nodes: list | None = None




def source_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of a source text as Python numbers them (see ``split_lines``)."""
    return split_lines(text, keepends)


def fix_for(d: Diagnostic, unsafe: bool) -> Fix | None:
    """The fix ``--fix`` would apply for a diagnostic (the first applicable one)."""
    return next((f for f in d.fixes if unsafe or f.applicability is Applicability.SAFE), None)


def cell_range(o: FileOutcome, r: Range) -> tuple[int | None, Range]:
    """(cell number from 1, the range in that cell) of a notebook's range; (None, r)
    in a file."""
    at = o.notebook.locate(r.start.line) if o.notebook is not None else None
    if at is None:
        return None, r
    cell, line = at
    if o.notebook.to_cell(r.start.line) is None:  # (a syntax error after the cell's end: at its last line)
        return cell + 1, Range(Position(line, 0), Position(line, 0))
    shift = r.start.line - line
    return cell + 1, Range(Position(line, r.start.character), Position(r.end.line - shift, r.end.character))


def _where(o: FileOutcome, r: Range) -> str:
    """``path:line:col`` (1-based), ``path:cell N:line:col`` in a notebook."""
    cell, r = cell_range(o, r)
    return f"{clean(o.path)}{f':cell {cell}' if cell is not None else ''}:{r.start.line + 1}:{r.start.character + 1}"


def _located(o: FileOutcome, r: Range) -> dict[str, int]:
    """``_one_based`` of a range, with its ``cell`` first in a notebook."""
    cell, r = cell_range(o, r)
    return {"cell": cell, **_one_based(r)} if cell is not None else _one_based(r)


def _one_based(r: Range) -> dict[str, int]:
    return {
        "line": r.start.line + 1,
        "column": r.start.character + 1,
        "end_line": r.end.line + 1,
        "end_column": r.end.character + 1,
    }


# --------------------------------------------------------------------- terminal text
_COLORS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.INFORMATION: "\x1b[1;36m",
    Severity.HINT: "\x1b[1;34m",
}
BOLD, CYAN, RESET = "\x1b[1m", "\x1b[36m", "\x1b[0m"
_TAB = 4
_WINDOW = 120  # longest source excerpt shown under a diagnostic, in characters


def clean(text: str) -> str:
    """One printable line: control and format characters (escape sequences,
    bidirectional overrides) from a file must not reach the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ("\\n" if ch == "\n" else "\ufffd") for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def excerpt(line: str, start: int, end: int) -> tuple[str, int, int]:
    """(display text, caret column, caret width) for a source line and the code-point
    span [start, end) on it: tabs expanded, wide characters counted twice, unsafe
    characters replaced, and very long lines cut to a window around the span."""
    start = max(0, min(start, len(line)))
    end = max(start, min(end, len(line)))
    prefix = suffix = ""
    if len(line) > _WINDOW:
        lo = max(0, start - _WINDOW // 3)
        hi = min(len(line), lo + _WINDOW)
        prefix, suffix = ("…" if lo else ""), ("…" if hi < len(line) else "")
        line, start, end = line[lo:hi], start - lo, min(end, hi) - lo
    out: list[str] = [prefix]
    width = len(prefix)
    caret_start = caret_end = None
    for i, ch in enumerate(line):
        if i == start:
            caret_start = width
        if i == end:
            caret_end = width
        if ch == "\t":
            rep = " " * (_TAB - width % _TAB)
            w = len(rep)
        elif not ch.isprintable():
            rep, w = "\ufffd", 1
        else:
            rep, w = ch, _char_width(ch)
        out.append(rep)
        width += w
    if caret_start is None:
        caret_start = width
    if caret_end is None:
        caret_end = width
    out.append(suffix)
    return "".join(out), caret_start, max(1, caret_end - caret_start)


def format_full(outcomes: list[FileOutcome], *, color: bool = False, unsafe: bool = False, **_: object) -> str:
    def c(style: str, text: str) -> str:
        return f"{style}{text}{RESET}" if color else text

    chunks: list[str] = []
    for o in outcomes:
        for d in o.diagnostics:
            r = d.range
            mark = " [*]" if fix_for(d, unsafe) else ""
            level = c(_COLORS[d.severity], f"[{d.severity.label}]")  # as in the concise format
            where = _where(o, r)
            path = clean(o.path)
            head = f"{c(BOLD, path)}{where[len(path):]}: {c(_COLORS[d.severity], d.code)} {level}{mark} {clean(d.message)}"
            parts = [head]
            line = o.lines.get(r.start.line)
            if line:  # an empty line (or no text: undecodable bytes) shows nothing
                end = r.end.character if r.end.line == r.start.line else len(line)
                text, col, width = excerpt(line, r.start.character, end)
                num = str(cell_range(o, r)[1].start.line + 1)
                pad = " " * len(num)
                bar = c(CYAN, "|")
                parts.append(f"{pad} {bar}")
                parts.append(f"{c(CYAN, num)} {bar} {text}".rstrip())
                parts.append(f"{pad} {bar} {' ' * col}{c(_COLORS[d.severity], '^' * width + ' ' + d.code)}")
                parts.append(f"{pad} {bar}")
            if d.fixes:
                parts.append(f"{' ' * (len(str(r.start.line + 1)) + 1)}= {c(BOLD, 'help')}: {clean(d.fixes[0].title)}")
            chunks.append("\n".join(parts) + "\n")
    return "\n".join(chunks)


def format_concise(outcomes: list[FileOutcome], *, color: bool = False, unsafe: bool = False, **_: object) -> str:
    rows = []
    for o in outcomes:
        for d in o.diagnostics:
            code = f"{_COLORS[d.severity]}{d.code}{RESET}" if color else d.code
            rows.append(f"{_where(o, d.range)}: {code} [{d.severity.label}] {clean(d.message)}\n")
    return "".join(rows)


# --------------------------------------------------------------------- json (rules.md)
def json_items(outcomes: list[FileOutcome]) -> list[dict]:
    items = []
    for o in outcomes:
        for d in o.diagnostics:
            items.append(
                {
                    "path": o.path,
                    **_located(o, d.range),
                    "code": d.code,
                    "severity": d.severity.label,
                    "message": d.message,
                    "fixes": [
                        {"title": f.title, "applicability": f.applicability.value,  # "safe" | "unsafe", as ruff's
                         "edits": [{**_located(o, e.range), "new_text": e.new_text} for e in f.edits]}
                        for f in d.fixes
                    ],
                }
            )
    return items


def format_json(outcomes: list[FileOutcome], **_: object) -> str:
    return json.dumps(json_items(outcomes), indent=2) + "\n"


# --------------------------------------------------------------------- github
def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


_GH_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "notice", Severity.HINT: "notice"}


def format_github(outcomes: list[FileOutcome], **_: object) -> str:
    rows = []
    for o in outcomes:
        for d in o.diagnostics:
            cell, in_cell = cell_range(o, d.range)
            p = _one_based(in_cell)
            where = [
                f"line={p['line']}",
                f"col={p['column']}",
                f"endLine={p['end_line']}",
                f"endColumn={p['end_column']}",
            ]
            title = f"torch-lsp ({d.code})"
            if cell is not None:  # a notebook: the lines of its JSON are not the cell's, so a file annotation
                where = []
                title += f" in cell {cell}, line {p['line']}"
            props = ",".join([f"file={_gh_property(o.path)}", *where, f"title={_gh_property(title)}"])
            rows.append(f"::{_GH_LEVEL[d.severity]} {props}::{_gh_data(d.message)}\n")
    return "".join(rows)


# --------------------------------------------------------------------- sarif
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFORMATION: "note", Severity.HINT: "note"}


def sarif_uri(path: str) -> str:
    """A relative URI reference with forward slashes (absolute paths become file URIs)."""
    p = path.replace(os.sep, "/")
    if p.startswith("./"):
        p = p[2:]
    if os.path.isabs(path):
        return "file://" + quote(p if p.startswith("/") else "/" + p, safe="/:")
    return quote(p, safe="/")


def _region(r: Range) -> dict[str, int]:
    return {
        "startLine": r.start.line + 1,
        "startColumn": r.start.character + 1,
        "endLine": r.end.line + 1,
        "endColumn": r.end.character + 1,
    }


def line_hash(code: str, path: str, line_text: str, occurrence: int) -> str:
    """A fingerprint that survives edits elsewhere in the file: the code, the path, the
    stripped text of the line and the how-manieth such line it is."""
    digest = hashlib.sha256("\0".join((code, path, line_text.strip())).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{digest[:16]}:{occurrence}"


def _what_it_does(doc: str) -> str:
    """The text of a rule doc's "What it does" section, on one line."""
    section = doc.split("## What it does", 1)[-1] if "## What it does" in doc else ""
    return " ".join(section.split("\n## ", 1)[0].split())


def sarif_log(outcomes: list[FileOutcome], *, successful: bool = True) -> dict:
    from torch_lsp.rules import RULES

    rules = sorted(RULES.values(), key=lambda r: r.code)
    index = {r.code: i for i, r in enumerate(rules)}
    driver = {
        "name": "torch-lsp",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": _what_it_does(r.doc) or r.summary},
                "help": {"text": r.render(), "markdown": r.render()},
                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
                "properties": {"fixable": r.fixable},
            }
            for r in rules
        ],
    }
    results = []
    for o in outcomes:
        uri = sarif_uri(o.path)
        seen: Counter[tuple[str, str]] = Counter()
        for d in o.diagnostics:
            text = o.lines.get(d.range.start.line, "")
            seen[(d.code, text.strip())] += 1
            cell, in_cell = cell_range(o, d.range)
            result: dict = {
                "ruleId": d.code,
                "level": _SARIF_LEVEL[d.severity],
                "message": {"text": d.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": _region(in_cell)}}],
                "partialFingerprints": {"primaryLocationLineHash": line_hash(d.code, uri, text, seen[(d.code, text.strip())])},
            }
            if d.code in index:
                result["ruleIndex"] = index[d.code]
            if cell is not None:  # a notebook: regions count lines in the cell (1-based)
                result["locations"][0]["properties"] = {"cell": cell}
            if d.related:
                result["relatedLocations"] = [
                    {
                        "id": i,
                        "message": {"text": rel.message},
                        "physicalLocation": {
                            "artifactLocation": {"uri": sarif_uri(rel.path) if rel.path else uri},
                            "region": _region(rel.range if rel.path else cell_range(o, rel.range)[1]),
                        },
                        **({"properties": {"cell": c}} if not rel.path and (c := cell_range(o, rel.range)[0]) else {}),
                    }
                    for i, rel in enumerate(d.related)
                ]
            if d.fixes:
                result["fixes"] = [
                    {
                        "description": {"text": f.title},
                        "artifactChanges": [
                            {
                                "artifactLocation": {"uri": uri},
                                "replacements": [
                                    {"deletedRegion": _region(cell_range(o, e.range)[1]), "insertedContent": {"text": e.new_text},
                                     **({"properties": {"cell": c}} if (c := cell_range(o, e.range)[0]) else {})}
                                    for e in f.edits
                                ],
                            }
                        ],
                    }
                    for f in d.fixes
                ]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "columnKind": "unicodeCodePoints",
                "results": results,
                "invocations": [{"executionSuccessful": successful}],
            }
        ],
    }


def format_sarif(outcomes: list[FileOutcome], *, successful: bool = True, **_: object) -> str:
    return json.dumps(sarif_log(outcomes, successful=successful), indent=2) + "\n"


FORMATTERS: dict[str, Callable[..., str]] = {
    "full": format_full,
    "concise": format_concise,
    "json": format_json,
    "sarif": format_sarif,
    "github": format_github,
}


# --------------------------------------------------------------------- summaries
def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(outcomes: list[FileOutcome], *, unsafe: bool = False, fixed: int | None = None, failed: bool = False) -> str:
    """The closing lines of a run; ``fixed`` is given after ``--fix``; ``failed``:
    something could not be checked (a missing path), so nothing says all passed."""
    diags = [d for o in outcomes for d in o.diagnostics]
    lines = [f"Fixed {plural(fixed, 'problem')}."] if fixed else []
    if not diags:
        return "".join(line + "\n" for line in lines + ([] if failed else ["All checks passed!"]))
    fixable = sum(1 for d in diags if fix_for(d, unsafe))
    text = f"Found {plural(len(diags), 'problem')}"
    if fixed:
        text += " remaining"
    elif fixable:
        text += f" ({fixable} fixable with --fix)"
    lines.append(text + ".")
    hidden = 0 if unsafe else sum(1 for d in diags if not fix_for(d, False) and fix_for(d, True))
    if hidden:
        lines.append(f"{hidden} more {'fix is' if hidden == 1 else 'fixes are'} available with --unsafe-fixes.")
    return "\n".join(lines) + "\n"


def statistics(outcomes: list[FileOutcome], *, as_json: bool = False, unsafe: bool = False) -> str:
    from torch_lsp.rules import rule_name

    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    names: dict[str, str] = {}
    for o in outcomes:
        for d in o.diagnostics:
            counts[d.code] += 1
            fixable[d.code] += fix_for(d, unsafe) is not None
            names[d.code] = rule_name(d.code)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if as_json:
        data = [{"code": code, "name": names[code], "count": n, "fixable": fixable[code]} for code, n in rows]
        return json.dumps(data, indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(n)) for _, n in rows)
    return "".join(f"{n:>{width}}\t{code}\t{'[*]' if fixable[code] else '   '} {names[code]}\n" for code, n in rows)
