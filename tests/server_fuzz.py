"""Protocol fuzzer for `torch-lsp serve` (issue 13): the server's copy of a document
is the editor's, every request is answered, and the diagnostics equal a fresh
analysis.

The real server runs as a subprocess and is spoken to over stdio by a raw JSON-RPC
client of its own (asyncio; no pytest-lsp, no lsprotocol: malformed messages must be
sendable). One *session* is one server process and one client profile:

- ``vscode``: ``general.positionEncodings: ["utf-16"]``, push diagnostics (no
  ``textDocument.diagnostic`` capability), ``reportSyntaxErrors: true`` in the
  initialization options (so TL000 ranges are exercised too);
- ``neovim``: ``general.positionEncodings: ["utf-8", "utf-16"]`` (the server picks),
  pull diagnostics (``textDocument.diagnostic`` with ``dynamicRegistration: false``),
  ``workspace.diagnostics.refreshSupport: true``.

A session opens 1-3 generated PyTorch model files (some with a real shape bug), then
sends many random ``didChange`` notifications (incremental ranges, sometimes several
changes in one notification, sometimes a whole-text change, occasional version
jumps), keeping its own copy of each document with the LSP line model
(``Document``): only ``\\n``, ``\\r\\n`` and ``\\r`` end lines; a ``character`` counts
units of the negotiated encoding; a character past the end of a line is the end of
that line; a line past the last line is the end of the document. Positions are only
ever sent at character boundaries (clients never send a position inside a surrogate
pair or a UTF-8 sequence; ``Document.offset_at`` raises if the fuzzer tried).
Between edits go valid requests (hover, inlay hints, code actions: quick fixes with
the server's own diagnostics and ``source.fixAll``, pull diagnostics) and invalid ones
(``INVALID_REQUESTS``), and once per session a message without a ``Content-Length``
header.

After each burst of edits, a *checkpoint*:

1. ``text``: ``torch-lsp/documentText`` returns the client's copy, byte for byte, and
   the last version sent;
2. ``answered``: every request got exactly one response within ``REQUEST_TIMEOUT``;
   invalid params get -32602 with a message, an unknown method -32601, garbage
   ``diagnostic.data`` is answered normally (no error at all); no Python traceback
   appears on the server's stderr;
3. ``diagnostics``: those published for the last version sent (push) or returned by
   a pull equal a fresh in-process analysis of the client's text, compared as (code,
   range in client units, message). The fresh analysis of a text that parses is
   ``engine.check_source(text, path)`` with the server's default rule selection; a
   text with a syntax error is analysed as the server documents it
   (``recovery.parse_recovering``: the statements that parse are analysed; TL000 is
   added when ``reportSyntaxErrors`` is on);
4. ``ranges``: every diagnostic range (and related range in the same document) lies
   inside the document; and for a text with a syntax error, each statement of the
   recovered tree the server analyses is where the text has it (else its diagnostics
   are on other lines, even when they fit the document); hover ranges, inlay hint
   positions and code action edits fit the document at the request (or a version sent
   before the response: ``stale_response`` when they fit only an earlier one);
5. at the end the process is alive, answers ``shutdown`` and exits 0 on ``exit``.

A failure keeps a reproducer: the document text before the burst and the changes of
the burst; for the first failure of each kind the run tries to shrink it against a
fresh server (a single change and as few document lines as still fail).

The CLI part (``run_cli_batch``) mutates files of the shared corpus (byte and
character mutations, odd line ends, truncations, non-UTF-8 bytes), runs
``torch-lsp check --format json`` on all of them at once and checks: exit code 0 or 1,
the output parses, every range (and fix edit) lies inside its file (1-based lines
and columns in code points, end exclusive).

Entry points: ``run_fuzz(...) -> Report`` and ``run_cli_batch(...) -> Report``;
``Report.summary()`` prints the figures. ``tests/test_server_fuzz.py`` is the short
seeded CI run, ``benchmarks/server_fuzz.py`` the long one.
"""
from __future__ import annotations

import asyncio
import bisect
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER = [sys.executable, "-m", "torch_lsp", "serve"]
CHECK = [sys.executable, "-m", "torch_lsp", "check"]
REPO = Path(__file__).resolve().parent.parent
# the shared corpus next to the repository (as CI lays it), else the repository's own examples
CORPUS = Path(os.environ.get("TORCH_LSP_FUZZ_CORPUS", REPO.parent / "shared" / "corpus"))
REQUEST_TIMEOUT = 20.0  # seconds for a response (and for the diagnostics of a version)
MAX_EXAMPLES = 5  # failures kept per kind, one per distinct cause (all are counted)
PROFILES = ("vscode", "neovim")
_MISSING = object()


# ============================================================================ line model
_LINE_END = re.compile(r"\r\n|\r|\n")


def units(s: str, encoding: str) -> int:
    """Length of ``s`` in units of a position encoding."""
    if encoding == "utf-16":
        return len(s.encode("utf-16-le", "surrogatepass")) // 2
    if encoding == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s)  # utf-32: code points


class MidCharacter(ValueError):
    """A position inside a character (a clients never sends one; the fuzzer must not)."""


class Document:
    """The client's copy of a document, with the LSP's line model."""

    def __init__(self, text: str, encoding: str):
        self.text = text
        self.encoding = encoding
        self._spans: list[tuple[int, int]] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        """(first offset, offset of the line end) of each line; the line after the
        last line end exists (it may be empty)."""
        if self._spans is None:
            spans, start = [], 0
            for m in _LINE_END.finditer(self.text):
                spans.append((start, m.start()))
                start = m.end()
            spans.append((start, len(self.text)))
            self._spans = spans
        return self._spans

    @property
    def n_lines(self) -> int:
        return len(self.spans)

    def line(self, n: int) -> str:
        """Line ``n`` without its line end."""
        a, b = self.spans[n]
        return self.text[a:b]

    def line_units(self, n: int) -> int:
        return units(self.line(n), self.encoding)

    def offset_at(self, line: int, character: int) -> int:
        """The code point offset of a client position, clamped as the spec says."""
        if line < 0 or character < 0:
            raise ValueError(f"negative position ({line}, {character})")
        if line >= self.n_lines:
            return len(self.text)
        a, b = self.spans[line]
        content = self.text[a:b]
        if self.encoding == "utf-32" or content.isascii():
            return a + min(character, len(content))
        u = 0
        for i, ch in enumerate(content):
            if u == character:
                return a + i
            u += units(ch, self.encoding)
            if u > character:
                raise MidCharacter(f"({line}, {character}) is inside {ch!r}")
        return b  # at or past the end of the line

    def position_at(self, offset: int) -> tuple[int, int]:
        """The client position of a code point offset (an offset inside ``\\r\\n`` is
        the end of its line)."""
        starts = [a for a, _ in self.spans]
        n = bisect.bisect_right(starts, offset) - 1
        a, b = self.spans[n]
        return n, units(self.text[a:min(offset, b)], self.encoding)

    def column_units(self, line: int, code_points: int) -> int:
        """A code point column on ``line`` in client units (past the end: the excess
        counts one unit each, as the server converts)."""
        if line >= self.n_lines:
            return code_points
        content = self.line(line)
        return units(content[:code_points], self.encoding) + max(code_points - len(content), 0)

    def apply(self, change: dict) -> None:
        """Apply one ``TextDocumentContentChangeEvent`` (JSON)."""
        if "range" not in change:
            self.text = change["text"]
        else:
            r = change["range"]
            a = self.offset_at(r["start"]["line"], r["start"]["character"])
            b = self.offset_at(r["end"]["line"], r["end"]["character"])
            if b < a:
                raise ValueError("a reversed range (the fuzzer never sends one)")
            self.text = self.text[:a] + change["text"] + self.text[b:]
        self._spans = None

    def inside(self, pos: dict) -> bool:
        """Is a client position inside the document (line exists, character at most
        the line's length in client units)?"""
        line, ch = pos.get("line"), pos.get("character")
        if not isinstance(line, int) or not isinstance(ch, int) or line < 0 or ch < 0:
            return False
        return line < self.n_lines and ch <= self.line_units(line)

    def range_inside(self, rng: dict) -> bool:
        try:
            s, e = rng["start"], rng["end"]
            return self.inside(s) and self.inside(e) and (s["line"], s["character"]) <= (e["line"], e["character"])
        except (KeyError, TypeError):
            return False


def rng_json(a: tuple[int, int], b: tuple[int, int]) -> dict:
    return {"start": {"line": a[0], "character": a[1]}, "end": {"line": b[0], "character": b[1]}}


# ============================================================================ documents
def make_document(rng: random.Random) -> str:
    """A small PyTorch model file: 1-2 nn.Module classes and a call; about half have
    a real bug (a Linear or Conv fed the wrong size, an unregistered tensor...)."""
    parts = ["import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"]
    if rng.random() < 0.3:
        parts.append(rng.choice(['"""Modèle de test: größe 🙂."""\n\n', "# 𝒳 → ŷ: a tiny model\n\n",
                                 "# 日本語のコメント\n\n"]))
    calls = []
    for k in range(rng.randint(1, 2)):
        kind = rng.choice(["mlp", "conv", "seq", "registration"])
        name = f"{kind.capitalize()}{k}"
        bug = rng.random() < 0.55
        if kind == "mlp":
            dims = [rng.choice([8, 10, 16, 20, 32, 64]) for _ in range(rng.randint(3, 4))]
            layers = []
            for i in range(len(dims) - 1):
                fan_in = dims[i]
                if bug and i == len(dims) - 2:
                    fan_in = dims[i] + rng.choice([1, 10, 14])
                layers.append(f"        self.fc{i} = nn.Linear({fan_in}, {dims[i + 1]})\n")
            body = "".join(f"        x = F.relu(self.fc{i}(x))\n" for i in range(len(dims) - 2))
            parts.append(f"class {name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                         + "".join(layers) + "\n    def forward(self, x):\n" + body
                         + f"        return self.fc{len(dims) - 2}(x)\n\n\n")
            calls.append(f"out{k} = {name}()(torch.randn(4, {dims[0]}))\n")
        elif kind == "conv":
            c_in, c1, c2 = rng.choice([1, 3]), rng.choice([8, 16]), rng.choice([16, 32])
            bn = c1 + (rng.choice([2, 8]) if bug else 0)
            parts.append(f"class {name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                         f"        self.conv1 = nn.Conv2d({c_in}, {c1}, 3, padding=1)\n"
                         f"        self.bn1 = nn.BatchNorm2d({bn})\n"
                         f"        self.conv2 = nn.Conv2d({c1}, {c2}, 3, padding=1)\n\n"
                         "    def forward(self, x):\n        x = F.relu(self.bn1(self.conv1(x)))\n"
                         "        return self.conv2(x)\n\n\n")
            calls.append(f"y{k} = {name}()(torch.randn(2, {c_in}, 16, 16))\n")
        elif kind == "seq":
            a, b, c = rng.choice([10, 12, 24]), rng.choice([20, 30, 40]), rng.choice([2, 5])
            b2 = b + (10 if bug else 0)
            parts.append(f"class {name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                         f"        self.net = nn.Sequential(\n            nn.Linear({a}, {b}),\n            nn.ReLU(),\n"
                         f"            nn.Linear({b2}, {c}),\n        )\n\n"
                         "    def forward(self, x):\n        return self.net(x)\n\n\n")
            calls.append(f"z{k} = {name}()(torch.randn(3, {a}))\n")
        else:
            sup = "" if bug and rng.random() < 0.5 else "        super().__init__()\n"
            w = "torch.randn(4, 4)" if bug else "nn.Parameter(torch.randn(4, 4))"
            parts.append(f"class {name}(nn.Module):\n    def __init__(self):\n{sup}"
                         f"        self.w = {w}\n        self.proj = nn.Linear(4, 4)\n\n"
                         "    def forward(self, x):\n        return self.proj(x @ self.w)\n\n\n")
    parts.extend(calls)
    return "".join(parts)


SPECIALS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
NON_ASCII = ["é", "ß", "größe", "日本語", "Ω", "\u00a0", "\u200b", "🙂", "𝒳", "👩\u200d💻", "👍🏽", "→", "€"]
LINE_ENDS = ["\n", "\r\n", "\r"]
CODE_LINES = [
    "x = torch.zeros(3, 4)", "# a comment", "h = self.fc0(x)", "pass", "y = x.view(4, -1)",
    "self.extra = nn.Linear(10, 20)", "z = torch.cat([x, x], dim=1)", "return x", "print('größe 🙂')",
    "w = nn.Conv2d(3, 8, 3)", "if x is None:", "for i in range(3):", "def helper(self):", "s = \"𝒳\"",
]
TYPED = "abcdefghijklmnopqrstuvwxyz_0123456789 .,:()[]=+-*'\""


class EditGenerator:
    """Random edits against a client document (as lists of change events)."""

    KINDS = [("type", 14), ("enter", 4), ("backspace", 8), ("delete_span", 5), ("delete_lines", 3),
             ("insert_lines", 8), ("special_comment", 9), ("special_string", 5), ("astral", 4),
             ("change_number", 10), ("past_end_insert", 5), ("past_end_range", 3), ("past_last_line", 3),
             ("line_ending", 5), ("crlf_merge", 4), ("paste_block", 3), ("random_replace", 4)]

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._kinds = [k for k, _ in self.KINDS]
        self._weights = [w for _, w in self.KINDS]

    # ------------------------------------------------------------------ positions
    def pos(self, doc: Document, offset: int, past_ok: bool = True) -> tuple[int, int]:
        """The position of an offset; at a line's end, sometimes a character past it,
        and at the end of the document sometimes a line past the last one."""
        line, ch = doc.position_at(offset)
        r = self.rng.random()
        if past_ok and offset == len(doc.text) and r < 0.25:
            return doc.n_lines + self.rng.choice([0, 0, 3]), self.rng.choice([0, 4])
        if past_ok and ch == doc.line_units(line) and r < 0.4:
            return line, ch + self.rng.choice([1, 1, 5, 100])
        return line, ch

    def span(self, doc: Document, max_len: int) -> tuple[int, int]:
        a = self.rng.randint(0, len(doc.text))
        return a, min(len(doc.text), a + self.rng.randint(0, max_len))

    def change(self, doc: Document, a: int, b: int, text: str, past_ok: bool = True) -> dict:
        return {"range": rng_json(self.pos(doc, a, past_ok), self.pos(doc, b, past_ok)), "text": text}

    def at(self, line: int, ch: int, text: str, end: tuple[int, int] | None = None) -> dict:
        return {"range": rng_json((line, ch), end or (line, ch)), "text": text}

    def ending(self, doc: Document) -> str:
        if self.rng.random() < 0.7:
            m = _LINE_END.search(doc.text)
            return m.group(0) if m else "\n"
        return self.rng.choice(LINE_ENDS)

    def indent(self, doc: Document, line: int) -> str:
        content = doc.line(line) if line < doc.n_lines else ""
        return content[: len(content) - len(content.lstrip(" \t"))]

    def junk(self, n: int) -> str:
        pool = SPECIALS + NON_ASCII + LINE_ENDS + list("abc (),:#'\"") + ["  "]
        return "".join(self.rng.choice(pool) for _ in range(n))

    def specials(self, allow_breaks: bool) -> str:
        pool = SPECIALS + NON_ASCII + ["abc", " ", "x"] + (LINE_ENDS if allow_breaks else [])
        return "".join(self.rng.choice(pool) for _ in range(self.rng.randint(1, 5)))

    # ------------------------------------------------------------------ edits
    def one(self, doc: Document) -> tuple[str, dict]:
        kind = self.rng.choices(self._kinds, self._weights)[0]
        return kind, getattr(self, "_" + kind)(doc)

    def _type(self, doc):
        a = self.rng.randint(0, len(doc.text))
        text = "".join(self.rng.choice(TYPED) for _ in range(self.rng.randint(1, 6)))
        return self.change(doc, a, a, text)

    def _enter(self, doc):
        a = self.rng.randint(0, len(doc.text))
        line, _ = doc.position_at(a)
        return self.change(doc, a, a, self.ending(doc) + self.indent(doc, line))

    def _backspace(self, doc):
        b = self.rng.randint(0, len(doc.text))
        return self.change(doc, max(0, b - self.rng.randint(1, 3)), b, "")

    def _delete_span(self, doc):
        a, b = self.span(doc, 80)
        return self.change(doc, a, b, "")

    def _delete_lines(self, doc):
        a = self.rng.randrange(doc.n_lines)
        b = a + self.rng.randint(1, 4)  # may be past the last line: up to the end of the document
        return self.at(a, 0, "", end=(b, 0))

    def _insert_lines(self, doc):
        line = self.rng.randrange(doc.n_lines + 1)  # n_lines: past the last line
        ind = self.indent(doc, line)
        text = "".join(ind + self.rng.choice(CODE_LINES) + self.ending(doc) for _ in range(self.rng.randint(1, 3)))
        return self.at(line, 0, text)

    def _special_comment(self, doc):
        line = self.rng.randrange(doc.n_lines)
        end = doc.line_units(line) + self.rng.choice([0, 0, 1, 5])
        text = "  # " + self.specials(False)
        if self.rng.random() < 0.3:  # a comment that goes on, on a line of its own
            text += self.rng.choice(LINE_ENDS) + self.indent(doc, line) + "# " + self.specials(False)
        return self.at(line, end, text)

    def _special_string(self, doc):
        line = self.rng.randrange(doc.n_lines)
        q = self.rng.choice(['"', "'"])
        text = f"{self.indent(doc, line)}_s = {q}{self.specials(False)}{q}{self.ending(doc)}"
        return self.at(line, 0, text)

    def _astral(self, doc):
        a = self.rng.randint(0, len(doc.text))
        return self.change(doc, a, a, self.rng.choice(["🙂", "𝒳", "👩\u200d💻", "👍🏽", "𝔘𝔫𝔦"]))

    def _change_number(self, doc):
        nums = list(re.finditer(r"\b\d+\b", doc.text))
        if not nums:
            return self._type(doc)
        m = self.rng.choice(nums)
        new = str(self.rng.choice([1, 2, 3, 4, 8, 10, 16, 20, 30, 32, 64, int(m.group()) + 1]))
        return self.change(doc, m.start(), m.end(), new, past_ok=False)

    def _past_end_insert(self, doc):
        line = self.rng.randrange(doc.n_lines)
        ch = doc.line_units(line) + self.rng.choice([1, 5, 1000])
        return self.at(line, ch, self.rng.choice(["  # end", ")", " 🙂", "", "  # \x0c ok"]))

    def _past_end_range(self, doc):
        line = self.rng.randrange(doc.n_lines)
        start = (line, self.rng.randint(0, doc.line_units(line)))
        start = doc.position_at(doc.offset_at(*start)) if doc.line(line).isascii() else (line, 0)
        end_line = min(doc.n_lines - 1, line + self.rng.randint(0, 2))
        end = (end_line, doc.line_units(end_line) + self.rng.choice([1, 5]))
        return self.at(*start, self.rng.choice(["", "x", "  # 𝒳"]), end=end)

    def _past_last_line(self, doc):
        line = doc.n_lines + self.rng.choice([0, 1, 10])
        text = self.rng.choice(["\nprint('tail')\n", "# tail 🙂", "\r\nz = 1\r\n", "\ry = 2"])
        if self.rng.random() < 0.3:  # a range that starts inside and ends past the end
            a = self.rng.randint(max(0, len(doc.text) - 40), len(doc.text))
            return {"range": rng_json(self.pos(doc, a), (line, self.rng.choice([0, 3]))), "text": text}
        return self.at(line, self.rng.choice([0, 2]), text)

    def _line_ending(self, doc):
        if doc.n_lines < 2:
            return self._type(doc)
        line = self.rng.randrange(doc.n_lines - 1)
        new = self.rng.choice(["\n", "\r\n", "\r", "\r\r\n", "\n\r", "", " "])
        return self.at(line, doc.line_units(line), new, end=(line + 1, 0))

    def _crlf_merge(self, doc):
        """Edits after which a lone \\r and a \\n meet and become one line end."""
        ends = [m for m in _LINE_END.finditer(doc.text)]
        lone_cr = [m for m in ends if m.group() == "\r"]
        if lone_cr and self.rng.random() < 0.5:
            m = self.rng.choice(lone_cr)
            line, _ = doc.position_at(m.end())
            if self.rng.random() < 0.5 or not doc.line(line):
                return self.at(line, 0, "\n" + self.rng.choice(["", "x = 1"]))
            # delete the next line's content, keeping its \n: the \r and that \n meet
            return self.at(line, 0, "", end=(line, doc.line_units(line)))
        line = self.rng.randrange(doc.n_lines)
        return self.at(line, doc.line_units(line), self.rng.choice(["\r", "  # x\r", "\r\r"]))

    def _paste_block(self, doc):
        line = self.rng.randrange(doc.n_lines + 1)
        ind = self.indent(doc, line)
        lines = [ind + self.rng.choice(CODE_LINES) + (self.rng.choice(["  # ", "  # 🙂 "]) + self.specials(False)
                                                      if self.rng.random() < 0.5 else "")
                 for _ in range(self.rng.randint(2, 6))]
        return self.at(line, 0, "".join(ln + self.rng.choice(LINE_ENDS) for ln in lines))

    def _random_replace(self, doc):
        a, b = self.span(doc, 30)
        return self.change(doc, a, b, self.junk(self.rng.randint(0, 8)))


# ============================================================================ reference
class Reference:
    """A fresh in-process analysis, as the server would publish it."""

    def __init__(self, root: str, report_syntax_errors: bool):
        self.root = root
        self.report_syntax_errors = report_syntax_errors

    def diagnostics(self, text: str, path: str) -> list:
        from torch_lsp import engine
        from torch_lsp.analysis.project import Project
        from torch_lsp.analysis.recovery import analysed_source, parse_recovering
        from torch_lsp.analysis.source import SourceFile
        from torch_lsp.config import ConfigResolver, Overrides

        enabled = ConfigResolver(Overrides(), cwd=self.root).settings_for(path).enabled_for(path)
        project = Project([self.root])
        if SourceFile.parse(text, path).problem is None:
            return list(engine.check_source(text, path, enabled=enabled, project=project).diagnostics)
        src = parse_recovering(text, path)  # what the server shows while the user types
        diags: list = []
        if src.tree is not None:
            analysed = analysed_source(src)
            ctx, diags = engine.analyse(analysed, project, enabled)
            if ctx is not None:
                ctx.release()
        if src.problem is not None and self.report_syntax_errors:
            from torch_lsp.rules import parse_error

            diags = diags + [parse_error.diagnostic(src.problem)]
        return engine.finish(src, diags, enabled)

    @staticmethod
    def keys(diags: list, doc: Document) -> list[tuple]:
        """(code, start line, start char, end line, end char, message), client units."""
        out = []
        for d in diags:
            r = d.range
            out.append((d.code, r.start.line, doc.column_units(r.start.line, r.start.character),
                        r.end.line, doc.column_units(r.end.line, r.end.character), d.message))
        return sorted(out, key=repr)


def server_keys(items: list[dict]) -> list[tuple]:
    out = []
    for d in items:
        r = d.get("range") or {}
        s, e = r.get("start") or {}, r.get("end") or {}
        out.append((str(d.get("code")), s.get("line"), s.get("character"), e.get("line"), e.get("character"),
                    d.get("message")))
    return sorted(out, key=repr)


# ============================================================================ report
@dataclass
class Failure:
    kind: str
    where: str  # "vscode#0 seed=1 step=42"
    detail: str
    reproducer: dict | None = None
    cause: str = ""  # failures of one kind with the same cause are one example
    shrunk: dict | None = None  # a smaller reproducer, when shrinking found one

    def text(self, width: int = 1500) -> str:
        out = f"[{self.kind}] {self.where}: {self.detail}"
        if self.shrunk and "open" in self.shrunk:
            out += "\n    smallest reproducer: " + json.dumps(self.shrunk, ensure_ascii=True)[:width]
        else:
            if self.shrunk:
                out += f"\n    ({self.shrunk.get('note', self.shrunk)})"
            if self.reproducer:
                out += "\n    reproducer: " + json.dumps(self.reproducer, ensure_ascii=True)[:width]
        return out


@dataclass
class Report:
    sessions: int = 0
    edits: int = 0  # content changes sent
    notifications: int = 0  # didChange notifications sent
    requests: int = 0  # requests sent (valid + invalid), checkpoints' included
    invalid_requests: int = 0
    checkpoints: int = 0
    cli_files: int = 0
    cli_diagnostics: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Failure]] = field(default_factory=dict)
    response_ms: dict[str, list[float]] = field(default_factory=dict)  # method -> samples
    rss_mb: list[float] = field(default_factory=list)  # per session, just before shutdown
    later_version_answers: int = 0  # responses that fit only a version sent after the request (allowed)
    error_logs: list[str] = field(default_factory=list)  # window/logMessage of type Error (not failures)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def fail(self, failure: Failure) -> None:
        self.counts[failure.kind] = self.counts.get(failure.kind, 0) + 1
        kept = self.examples.setdefault(failure.kind, [])
        if len(kept) < MAX_EXAMPLES and not any(f.cause == failure.cause for f in kept):
            kept.append(failure)

    @property
    def failures(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: "Report") -> None:
        for name in ("sessions", "edits", "notifications", "requests", "invalid_requests", "checkpoints",
                     "cli_files", "cli_diagnostics", "later_version_answers"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
            kept = self.examples.setdefault(kind, [])
            for f in other.examples[kind]:
                if len(kept) < MAX_EXAMPLES and not any(k.cause == f.cause for k in kept):
                    kept.append(f)
        for m, v in other.response_ms.items():
            self.response_ms.setdefault(m, []).extend(v)
        self.rss_mb.extend(other.rss_mb)
        self.error_logs.extend(other.error_logs)
        self.notes.extend(other.notes)
        self.seconds += other.seconds

    def all_response_ms(self) -> list[float]:
        return [x for v in self.response_ms.values() for x in v]

    def summary(self, examples: int = 2) -> str:
        t = self.all_response_ms()
        lines = [
            f"sessions {self.sessions}, edits {self.edits} (in {self.notifications} didChange), "
            f"requests {self.requests} ({self.invalid_requests} invalid), checkpoints {self.checkpoints}, "
            f"CLI files {self.cli_files} ({self.cli_diagnostics} diagnostics)",
        ]
        if t:
            lines.append(f"response time: median {statistics.median(t):.1f} ms, max {max(t):.1f} ms over {len(t)} responses")
            for m in sorted(self.response_ms):
                v = self.response_ms[m]
                lines.append(f"    {m:32s} n={len(v):5d} median {statistics.median(v):7.1f} ms  max {max(v):8.1f} ms")
        if self.later_version_answers:
            lines.append(f"responses computed for a version sent after their request (allowed): {self.later_version_answers}")
        if self.rss_mb:
            lines.append(f"server RSS at the end of a session: max {max(self.rss_mb):.0f} MB, "
                         f"median {statistics.median(self.rss_mb):.0f} MB")
        lines.append(f"failures: {self.failures}" + ("" if self.failures else " (none)"))
        for kind in sorted(self.counts, key=lambda k: -self.counts[k]):
            lines.append(f"  {kind}: {self.counts[kind]}")
            for f in self.examples[kind][:examples]:
                lines.append("    " + f.text().replace("\n", "\n    "))
        if self.error_logs:
            lines.append(f"error messages the server logged (window/logMessage type 1, not failures): {len(self.error_logs)}")
            for m in sorted(set(self.error_logs))[:8]:
                lines.append(f"    {m[:200]}")
        for n in self.notes:
            lines.append(f"note: {n}")
        lines.append(f"wall time {self.seconds:.1f} s")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "sessions": self.sessions, "edits": self.edits, "notifications": self.notifications,
            "requests": self.requests, "invalid_requests": self.invalid_requests, "checkpoints": self.checkpoints,
            "cli_files": self.cli_files, "counts": self.counts,
            "examples": {k: [f.__dict__ for f in v] for k, v in self.examples.items()},
            "response_ms": {m: {"n": len(v), "median": statistics.median(v), "max": max(v)}
                            for m, v in self.response_ms.items() if v},
            "rss_mb": self.rss_mb, "seconds": self.seconds, "notes": self.notes,
        }


# ============================================================================ JSON-RPC client
@dataclass
class Pending:
    id: int
    method: str
    params: Any
    expect: str  # result | invalid_params | method_not_found | no_error
    label: str
    sent: float
    future: asyncio.Future
    snapshot: Document | None = None  # the document as it was when the request was sent
    history: dict | None = None  # how the document came to be (for a reproducer)


class LspClient:
    """A raw JSON-RPC client over a subprocess' stdio."""

    def __init__(self, argv: list[str], cwd: str, env: dict | None = None):
        self.argv, self.cwd, self.env = argv, cwd, env
        self.proc: asyncio.subprocess.Process | None = None
        self.next_id = 0
        self.pending: dict[int, Pending] = {}
        self.answered: set[int] = set()
        self.timed_out: set[int] = set()
        self.tolerated: set[Any] = set()  # ids whose response may or may not come
        self.published: dict[str, list[tuple[Any, list, float]]] = {}
        self.publish_event = asyncio.Event()
        self.refreshes = 0
        self.stderr: list[tuple[float, str]] = []
        self.sent_log: list[tuple[float, str]] = []
        self.protocol_problems: list[str] = []
        self.error_logs: list[str] = []
        self.closed = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=self.env, limit=1 << 20)
        self._tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._stderr_loop())]

    async def _stderr_loop(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            try:
                line = await self.proc.stderr.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            self.stderr.append((time.monotonic(), line.decode("utf-8", "replace")))

    async def _read_loop(self) -> None:
        assert self.proc and self.proc.stdout
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = await out.readline()
                    if not line:
                        raise EOFError
                    if line in (b"\r\n", b"\n"):
                        break
                    k, _, v = line.decode("ascii", "replace").partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                    elif k.strip().lower() != "content-type":
                        self.protocol_problems.append(f"unexpected header line from the server: {line[:100]!r}")
                if length is None:
                    self.protocol_problems.append("a message from the server without Content-Length")
                    continue
                body = await out.readexactly(length)
                t = time.monotonic()
                try:
                    msg = json.loads(body)
                except ValueError:
                    self.protocol_problems.append(f"a body that is not JSON: {body[:100]!r}")
                    continue
                await self._dispatch(msg, t)
        except (EOFError, asyncio.IncompleteReadError, ConnectionResetError, ValueError):
            pass
        finally:
            self.closed.set()
            for p in self.pending.values():
                if not p.future.done():
                    p.future.set_exception(EOFError("the server closed its stdout"))
                    p.future.exception()  # retrieved: wait() reports it
            self.publish_event.set()

    async def _dispatch(self, msg: Any, t: float) -> None:
        if not isinstance(msg, dict):
            self.protocol_problems.append(f"a message that is not an object: {str(msg)[:100]}")
            return
        method = msg.get("method")
        if method is None:
            rid = msg.get("id")
            p = self.pending.pop(rid, None) if isinstance(rid, (int, str)) else None
            if p is not None:
                self.answered.add(rid)
                if not p.future.done():
                    p.future.set_result((msg, t))
            elif rid in self.tolerated or rid in self.timed_out:
                pass
            elif rid in self.answered:
                self.protocol_problems.append(f"a second response to request {rid}")
            else:
                self.protocol_problems.append(f"a response to an id never sent: {json.dumps(msg)[:200]}")
            return
        if "id" in msg:  # a request from the server
            result: Any = None
            if method == "workspace/configuration":
                result = [None] * len((msg.get("params") or {}).get("items") or [])
            elif method == "workspace/diagnostic/refresh":
                self.refreshes += 1
            elif method == "workspace/workspaceFolders":
                result = [{"uri": Path(self.cwd).as_uri(), "name": "root"}]
            await self.write({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            return
        params = msg.get("params") or {}
        if method == "textDocument/publishDiagnostics":
            self.published.setdefault(params.get("uri"), []).append((params.get("version"), params.get("diagnostics") or [], t))
            self.publish_event.set()
        elif method == "window/logMessage" and params.get("type") == 1:
            self.error_logs.append(str(params.get("message")))

    async def write(self, obj: Any = None, *, raw: bytes | None = None, header: bool = True) -> None:
        assert self.proc and self.proc.stdin
        body = raw if raw is not None else json.dumps(obj).encode()
        data = (b"Content-Length: %d\r\n\r\n" % len(body) if header else b"") + body
        self.sent_log.append((time.monotonic(), body[:160].decode("utf-8", "replace")))
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def notify(self, method: str, params: Any) -> None:
        await self.write({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(self, method: str, params: Any = _MISSING, *, expect: str = "result", label: str = "",
                      snapshot: Document | None = None) -> Pending:
        self.next_id += 1
        rid = self.next_id
        msg: dict = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not _MISSING:
            msg["params"] = params
        p = Pending(rid, method, params, expect, label or method, time.monotonic(),
                    asyncio.get_running_loop().create_future(), snapshot)
        self.pending[rid] = p
        await self.write(msg)
        return p

    async def wait(self, p: Pending, timeout: float = REQUEST_TIMEOUT) -> tuple[dict, float] | None:
        """The response (and its arrival time), or None after the timeout."""
        remaining = max(0.0, p.sent + timeout - time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.shield(p.future), remaining)
        except (asyncio.TimeoutError, EOFError):
            if self.pending.pop(p.id, None) is not None:
                self.timed_out.add(p.id)
            return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def rss_mb(self) -> float | None:
        """Resident memory of the server and its children."""
        if not self.proc:
            return None
        total = 0
        pids = [self.proc.pid]
        try:
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open(f"/proc/{d}/stat") as f:
                            if int(f.read().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                                pids.append(int(d))
                    except (OSError, ValueError, IndexError):
                        pass
            for pid in pids:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
        except OSError:
            return None
        return total / 1024

    async def stop(self) -> int | None:
        """shutdown + exit; the exit code (None when it did not exit)."""
        if self.proc is None:
            return None
        if self.alive():
            try:
                p = await self.request("shutdown")
                await self.wait(p, 10)
                await self.notify("exit", None)
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, ProcessLookupError):
                pass
        return await self.kill()

    async def kill(self) -> int | None:
        """End the process if it still runs; its exit code if it ended by itself."""
        code = self.proc.returncode if self.proc else None
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            await self.proc.wait()
            code = None
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, 5)
            except (asyncio.TimeoutError, Exception):
                t.cancel()
        return code


# ============================================================================ profiles
def capabilities(profile: str) -> dict:
    td = {
        "synchronization": {"dynamicRegistration": False, "didSave": True, "willSave": False},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": [
            "", "quickfix", "refactor", "source", "source.organizeImports", "source.fixAll"]}},
            "isPreferredSupport": True, "dataSupport": True},
        "inlayHint": {"dynamicRegistration": False},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True, "codeDescriptionSupport": True,
                               "dataSupport": True},
    }
    if profile == "vscode":
        return {"general": {"positionEncodings": ["utf-16"]}, "textDocument": td,
                "workspace": {"configuration": True, "workspaceEdit": {"documentChanges": True},
                              "didChangeWatchedFiles": {"dynamicRegistration": True}},
                "window": {"workDoneProgress": True}}
    td["diagnostic"] = {"dynamicRegistration": False, "relatedDocumentSupport": False}
    return {"general": {"positionEncodings": ["utf-8", "utf-16"]}, "textDocument": td,
            "workspace": {"configuration": True, "diagnostics": {"refreshSupport": True},
                          "didChangeWatchedFiles": {"dynamicRegistration": False}}}


def offered(profile: str) -> list[str]:
    return capabilities(profile)["general"]["positionEncodings"]


def init_options(profile: str) -> dict:
    return {} if profile == "vscode" else {"reportSyntaxErrors": False}  # on by default


# ============================================================================ invalid requests
GARBAGE_DATA = [{"fixes": [{}]}, "garbage", 42, {"fixes": "x"}, {"line": "x"}, {"fixes": [{"title": "t", "edits": [{"range": 5}]}]},
                {"fixes": [{"title": "t", "edits": [{"range": {"start": {"line": -1, "character": 0}, "end": None}, "newText": 1}]}]},
                [1, 2], {"version": "v", "fixes": None}]


def invalid_requests(uri: str) -> list[tuple[str, str, Any, str]]:
    """(label, method, params or _MISSING, expected outcome)."""
    td = {"uri": uri}
    z = {"line": 0, "character": 0}
    diag = {"range": {"start": z, "end": {"line": 0, "character": 1}}, "message": "m", "source": "torch-lsp",
            "code": "TL201", "severity": 1}
    out = [
        ("hover line -1", "textDocument/hover", {"textDocument": td, "position": {"line": -1, "character": 0}}, "invalid_params"),
        ("hover character -1", "textDocument/hover", {"textDocument": td, "position": {"line": 0, "character": -1}}, "invalid_params"),
        ("hover line 2**31", "textDocument/hover", {"textDocument": td, "position": {"line": 2 ** 31, "character": 0}}, "invalid_params"),
        ("hover position null", "textDocument/hover", {"textDocument": td, "position": None}, "invalid_params"),
        ("hover without params", "textDocument/hover", _MISSING, "invalid_params"),
        ("hover without textDocument", "textDocument/hover", {"position": z}, "invalid_params"),
        ("hover params a list", "textDocument/hover", [td, z], "invalid_params"),
        ("codeAction range start null", "textDocument/codeAction",
         {"textDocument": td, "range": {"start": None, "end": z}, "context": {"diagnostics": []}}, "invalid_params"),
        ("codeAction without context", "textDocument/codeAction", {"textDocument": td, "range": {"start": z, "end": z}}, "invalid_params"),
        ("inlayHint empty start", "textDocument/inlayHint", {"textDocument": td, "range": {"start": {}, "end": z}}, "invalid_params"),
        ("unknown method", "torch-lsp/noSuchMethod", {"textDocument": td}, "method_not_found"),
        ("unknown textDocument method", "textDocument/noSuchThing", {"textDocument": td}, "method_not_found"),
        # valid edge cases: the largest uinteger (a line past the end = the end of the document)
        ("hover line 2**31-1", "textDocument/hover", {"textDocument": td, "position": {"line": 2 ** 31 - 1, "character": 2 ** 31 - 1}}, "result"),
        ("inlayHint range to 2**31-1", "textDocument/inlayHint",
         {"textDocument": td, "range": {"start": z, "end": {"line": 2 ** 31 - 1, "character": 0}}}, "result"),
    ]
    for data in GARBAGE_DATA:
        out.append((f"codeAction diagnostic.data={json.dumps(data)}", "textDocument/codeAction",
                    {"textDocument": td, "range": {"start": z, "end": z},
                     "context": {"diagnostics": [dict(diag, data=data)], "only": ["quickfix"]}}, "no_error"))
    return out


# ============================================================================ session
@dataclass
class OpenDoc:
    uri: str
    path: str
    doc: Document
    version: int
    base_text: str  # text at the last checkpoint (or open)
    steps: list = field(default_factory=list)  # [(version, changes)] since then
    last_parsed: str | None = None  # the last checkpointed text that parsed
    unparsed_checkpoints: int = 0
    diags: list = field(default_factory=list)  # the last diagnostics the server gave (JSON)
    last_published_version: Any = None
    # (time sent, version, text) of each version since the last checkpoint: a response may
    # be computed for a version sent after its request (and before it was answered)
    sent: list = field(default_factory=list)

    def __post_init__(self):
        self.sent.append((time.monotonic(), self.version, self.doc.text))


def _parses(text: str) -> bool:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: invalid escape sequence, decimal literal...
            compile(text, "<fuzz>", "exec", dont_inherit=True, flags=0x400)  # PyCF_ONLY_AST: no bytecode
        return True
    except (SyntaxError, ValueError):
        return False


class Session:
    def __init__(self, profile: str, seed: int, n_edits: int, index: int, report: Report,
                 server: list[str] | None = None, env: dict | None = None, workdir: str | None = None):
        self.profile, self.seed, self.n_edits, self.index, self.report = profile, seed, n_edits, index, report
        self.rng = random.Random(f"{profile}-{seed}-{index}")
        self.gen = EditGenerator(self.rng)
        self.server = server or SERVER
        self.env = env
        self.root = tempfile.mkdtemp(prefix=f"lspfuzz-{profile}-", dir=workdir)
        self.root = os.path.realpath(self.root)
        self.client: LspClient | None = None
        self.encoding = "utf-16"
        self.docs: dict[str, OpenDoc] = {}
        self.reference = Reference(self.root, report_syntax_errors=profile == "vscode")
        self.step = 0
        self.document_text_supported = True
        self.failed: list[Failure] = []  # this session's failures, in order
        self.pushed_to_puller = False
        self.dead = False
        self._stderr_done = 0  # stderr lines already checked

    # ------------------------------------------------------------------ helpers
    @property
    def where(self) -> str:
        return f"{self.profile}#{self.index} seed={self.seed} step={self.step}"

    def fail(self, kind: str, detail: str, reproducer: dict | None = None, cause: str = "") -> Failure:
        f = Failure(kind, self.where, detail, reproducer, cause or _cause(detail))
        self.report.fail(f)
        self.failed.append(f)
        return f

    async def send_request(self, label: str, method: str, params: Any, expect: str, snapshot: Document | None = None,
                           history: dict | None = None):
        self.report.requests += 1
        p = await self.client.request(method, params, expect=expect, label=label, snapshot=snapshot)
        p.history = history
        return p

    # ------------------------------------------------------------------ run
    async def run(self) -> None:
        t0 = time.monotonic()
        self.report.sessions += 1
        self.client = LspClient(self.server, self.root, self.env)
        await self.client.start()
        try:
            if await self.initialize():
                await self.drive()
        finally:
            await self.finish()
            shutil.rmtree(self.root, ignore_errors=True)
            self.report.seconds += time.monotonic() - t0

    async def initialize(self) -> bool:
        c = self.client
        p = await self.send_request("initialize", "initialize", {
            "processId": os.getpid(), "rootUri": Path(self.root).as_uri(), "capabilities": capabilities(self.profile),
            "workspaceFolders": [{"uri": Path(self.root).as_uri(), "name": "fuzz"}],
            "initializationOptions": init_options(self.profile), "clientInfo": {"name": f"fuzz-{self.profile}"}}, "result")
        got = await c.wait(p, 60)
        if got is None or "result" not in got[0]:
            self.fail("initialize_failed", f"no result to initialize: {got and got[0]}")
            self.dead = True
            return False
        caps = got[0]["result"].get("capabilities") or {}
        enc = caps.get("positionEncoding", "utf-16")
        if enc not in offered(self.profile) and not (enc == "utf-16" and self.profile == "vscode"):
            self.fail("encoding_not_offered", f"server chose {enc!r}, client offered {offered(self.profile)}")
        self.encoding = enc if enc in ("utf-8", "utf-16", "utf-32") else "utf-16"
        sync = caps.get("textDocumentSync")
        kind = sync.get("change") if isinstance(sync, dict) else sync
        if kind != 2:
            self.fail("not_incremental", f"textDocumentSync change kind {kind!r}")
        await c.notify("initialized", {})
        return True

    async def drive(self) -> None:
        rng = self.rng
        for i in range(rng.randint(1, 3)):
            await self.open_doc(i)
        invalid = invalid_requests(next(iter(self.docs)))
        rng.shuffle(invalid)
        # when each invalid request goes out: spread over the session
        schedule = sorted(rng.randrange(max(1, self.n_edits)) for _ in invalid)
        sent_edits = 0
        burst_end = rng.randint(3, 20)
        while sent_edits < self.n_edits and not self.dead:
            self.step += 1
            od = self.rng.choice(list(self.docs.values()))
            sent_edits += await self.edit(od)
            while schedule and schedule[0] <= sent_edits and invalid:
                schedule.pop(0)
                await self.send_invalid(invalid.pop())
            if rng.random() < 0.3:
                await self.send_valid(rng.choice(list(self.docs.values())))
            if rng.random() < 0.015:
                await self.close_and_reopen(rng.choice(list(self.docs.values())))
            if sent_edits >= burst_end:
                await self.checkpoint()
                burst_end = sent_edits + rng.randint(3, 20)
        for label, method, params, expect in invalid:  # what the schedule left
            await self.send_invalid((label, method, params, expect))
        if not self.dead:
            await self.checkpoint()
        if not self.dead:
            await self.headerless()
        if not self.dead:
            for _ in range(5):
                od = self.rng.choice(list(self.docs.values()))
                await self.edit(od)
                await self.send_valid(od)
            await self.checkpoint()

    async def open_doc(self, i: int, text: str | None = None, version: int | None = None) -> OpenDoc:
        name = f"fuzzdoc_{i}.py"
        path = os.path.join(self.root, name)
        uri = Path(path).as_uri()
        text = text if text is not None else make_document(self.rng)
        version = version if version is not None else self.rng.randint(0, 5)
        od = OpenDoc(uri, path, Document(text, self.encoding), version, text)
        self.docs[uri] = od
        await self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version, "text": text}})
        return od

    # ------------------------------------------------------------------ edits
    async def edit(self, od: OpenDoc) -> int:
        """One didChange: usually one incremental change, sometimes several, sometimes
        the whole text. Returns the number of changes sent."""
        doc = od.doc
        rng = self.rng
        changes: list[dict] = []
        kinds: list[str] = []
        if len(doc.text) > 6000 or doc.n_lines > 250 or len(doc.text) < 80 or od.unparsed_checkpoints >= 2:
            # keep the document a model file: back to the last text that parsed (or a new one),
            # as one incremental change over the whole document
            text = od.last_parsed if od.last_parsed and od.unparsed_checkpoints >= 2 and len(od.last_parsed) <= 6000 \
                else make_document(rng)
            od.unparsed_checkpoints = 0
            end = (doc.n_lines + rng.choice([0, 2]), 0) if rng.random() < 0.5 else (doc.n_lines - 1, doc.line_units(doc.n_lines - 1))
            changes.append({"range": rng_json((0, 0), end), "text": text})
            kinds.append("whole_range")
            doc.apply(changes[-1])
        elif rng.random() < 0.04:
            text = doc.text
            choice = rng.random()
            if choice < 0.4:
                text = _LINE_END.sub(rng.choice(LINE_ENDS), text)
            elif choice < 0.7 and od.last_parsed:
                text = od.last_parsed
            else:
                text = make_document(rng)
            changes.append({"text": text})
            kinds.append("full_text")
            doc.apply(changes[-1])
        else:
            for _ in range(1 if rng.random() < 0.88 else rng.randint(2, 4)):
                kind, change = self.gen.one(doc)
                doc.apply(change)  # each change applies to the text the previous ones left
                changes.append(change)
                kinds.append(kind)
        od.version += 1 if rng.random() > 0.05 else rng.randint(2, 50)
        od.steps.append({"version": od.version, "kinds": kinds, "changes": changes})
        od.sent.append((time.monotonic(), od.version, doc.text))
        self.report.edits += len(changes)
        self.report.notifications += 1
        await self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": od.uri, "version": od.version}, "contentChanges": changes})
        return len(changes)

    async def close_and_reopen(self, od: OpenDoc) -> None:
        await self.client.notify("textDocument/didClose", {"textDocument": {"uri": od.uri}})
        if self.document_text_supported:
            p = await self.send_request("documentText after close", "torch-lsp/documentText",
                                        {"textDocument": {"uri": od.uri}}, "result")
            got = await self.client.wait(p)
            if got is not None and "result" in got[0] and got[0]["result"] is not None:
                self.fail("closed_document_still_held", "torch-lsp/documentText of a closed document is not null",
                          {"result": str(got[0]["result"])[:200]})
            elif got is not None:
                self.check_response(p, got)
        version = od.version + self.rng.randint(1, 3)
        new = await self.open_doc(int(od.path.rsplit("_", 1)[1][:-3]), od.doc.text, version)
        new.last_parsed = od.last_parsed
        new.last_published_version = None
        self.client.published.pop(od.uri, None)

    # ------------------------------------------------------------------ requests
    def random_position(self, doc: Document) -> tuple[int, int]:
        return self.gen.pos(doc, self.rng.randint(0, len(doc.text)))

    async def send_valid(self, od: OpenDoc) -> None:
        rng = self.rng
        doc = od.doc
        snap = Document(doc.text, doc.encoding)
        snap.version = od.version
        hist = self.reproducer(od)
        td = {"uri": od.uri}
        choices = ["hover", "hover", "inlay", "quickfix", "fixall"] + (["pull", "pull"] if self.profile == "neovim" else [])
        what = rng.choice(choices)
        if what == "hover":
            line, ch = self.random_position(doc)
            await self.send_request("hover", "textDocument/hover", {"textDocument": td, "position": {"line": line, "character": ch}},
                                    "result", snap, hist)
        elif what == "inlay":
            a, b = sorted([rng.randint(0, len(doc.text)), rng.randint(0, len(doc.text))])
            await self.send_request("inlayHint", "textDocument/inlayHint",
                                    {"textDocument": td, "range": rng_json(self.gen.pos(doc, a), self.gen.pos(doc, b))}, "result", snap, hist)
        elif what == "quickfix":
            # the server's own diagnostics of the current version (if the last ones are for it)
            diags = od.diags if od.last_published_version == od.version else []
            if diags:
                d = rng.choice(diags)
                params = {"textDocument": td, "range": d["range"],
                          "context": {"diagnostics": [d], "only": ["quickfix"], "triggerKind": 1}}
            else:
                line, ch = self.random_position(doc)
                params = {"textDocument": td, "range": rng_json((line, ch), (line, ch)), "context": {"diagnostics": [], "triggerKind": 2}}
            await self.send_request("codeAction quickfix", "textDocument/codeAction", params, "result", snap, hist)
        elif what == "fixall":
            await self.send_request("codeAction source.fixAll", "textDocument/codeAction",
                                    {"textDocument": td, "range": rng_json((0, 0), (0, 0)),
                                     "context": {"diagnostics": [], "only": ["source.fixAll"], "triggerKind": 1}}, "result", snap, hist)
        else:
            await self.send_request("diagnostic (pull)", "textDocument/diagnostic",
                                    {"textDocument": td, "identifier": "torch-lsp"}, "result", snap, hist)

    async def send_invalid(self, item: tuple[str, str, Any, str]) -> None:
        label, method, params, expect = item
        self.report.invalid_requests += 1
        await self.send_request(label, method, params, expect)

    def check_response(self, p: Pending, got: tuple[dict, float]) -> None:
        msg, t = got
        self.report.response_ms.setdefault(p.method, []).append((t - p.sent) * 1000)
        err = msg.get("error")
        req = {"method": p.method, "params": None if p.params is _MISSING else p.params}
        if "result" in msg and err is not None or "result" not in msg and err is None:
            self.fail("malformed_response", f"{p.label}: {json.dumps(msg)[:300]}", req)
            return
        if p.expect == "invalid_params":
            if err is None:
                self.fail("invalid_params_not_rejected", f"{p.label}: got a result {json.dumps(msg.get('result'))[:200]}", req)
            elif err.get("code") != -32602 or not err.get("message"):
                self.fail("invalid_params_wrong_error", f"{p.label}: error {json.dumps(err)[:300]}", req)
        elif p.expect == "method_not_found":
            if err is None or err.get("code") != -32601:
                self.fail("unknown_method_not_32601", f"{p.label}: {json.dumps(msg)[:300]}", req)
        elif p.expect == "no_error":
            if err is not None:
                kind = "garbage_data_internal_error" if err.get("code") == -32603 else "garbage_data_error"
                self.fail(kind, f"{p.label}: error {err.get('code')} {str(err.get('message'))[:200]}", req)
            elif not isinstance(msg.get("result"), (list, type(None))):
                self.fail("bad_result_shape", f"{p.label}: {json.dumps(msg.get('result'))[:200]}", req)
        else:  # a valid request
            if err is not None:
                if err.get("code") in (-32800, -32801):  # cancelled / content modified: allowed
                    return
                self.fail("error_on_valid_request", f"{p.label}: error {err.get('code')} {str(err.get('message'))[:300]}",
                          dict(p.history or {}, request=req))
                return
            self.check_result(p, msg.get("result"), t)

    def versions_for(self, p: Pending, t: float, earlier: bool = False) -> list[Document]:
        """The texts a response may refer to: the document at the request, then each
        version sent after it and before the response arrived (``earlier``: the
        versions before the request since the last checkpoint, newest first)."""
        out = [p.snapshot] if p.snapshot is not None and not earlier else []
        uri = (p.params.get("textDocument") or {}).get("uri") if isinstance(p.params, dict) else None
        od = self.docs.get(uri)
        v0 = getattr(p.snapshot, "version", None)
        if od is not None and v0 is not None:
            for ts, v, text in (reversed(od.sent) if earlier else od.sent):
                if (v < v0) if earlier else (v > v0 and ts <= t):
                    d = Document(text, od.doc.encoding)
                    d.version = v
                    out.append(d)
        return out

    def outside(self, p: Pending, t: float | None, what: str, fits, req: dict) -> None:
        """A response whose positions fit neither the request's version nor a later one:
        a stale answer when they fit an earlier version, else out of the document."""
        older = [d for d in self.versions_for(p, t or time.monotonic(), earlier=True) if fits(d)]
        later = len(self.versions_for(p, t or time.monotonic())) - 1
        where = f"request at version {p.snapshot.version}, {later} later version(s) sent before the response"
        if older:
            self.fail("stale_response", f"{what} fits version {older[0].version}, sent before the request, not the "
                      f"request's ({where})", req, cause=p.method)
        else:
            self.fail("response_range_outside_document", f"{what} ({where})", req, cause=p.method)

    def check_result(self, p: Pending, result: Any, t: float | None = None) -> None:
        snap = p.snapshot
        req = dict(p.history or {"text": snap.text if snap else None}, request={"method": p.method, "params": p.params})
        docs = self.versions_for(p, t if t is not None else time.monotonic())
        if p.method == "textDocument/hover":
            if result is None:
                return
            if not isinstance(result, dict) or "contents" not in result:
                self.fail("bad_result_shape", f"hover: {json.dumps(result)[:200]}", req)
            elif docs and result.get("range") is not None:
                fits = [d for d in docs if d.range_inside(result["range"])]
                if not fits:
                    self.outside(p, t, f"hover range {_fmt_range(result['range'])}", lambda d: d.range_inside(result["range"]), req)
                elif fits[0] is not snap:
                    self.report.later_version_answers += 1
        elif p.method == "textDocument/inlayHint":
            if result is None:
                return
            if not isinstance(result, list):
                self.fail("bad_result_shape", f"inlayHint: {json.dumps(result)[:200]}", req)
                return
            def fits_all(d: Document) -> bool:
                return all(d.inside(h.get("position") or {}) for h in result)

            fits = [d for d in docs if fits_all(d)]
            if docs and not fits:
                bad = next(h for h in result if not snap.inside(h.get("position") or {}))
                self.outside(p, t, f"inlay hint at {_fmt_pos(bad.get('position'))} ({bad.get('label')!r})", fits_all, req)
            elif docs and fits[0] is not snap:
                self.report.later_version_answers += 1
        elif p.method == "textDocument/codeAction":
            if result is not None and (not isinstance(result, list) or not all(isinstance(a, dict) and "title" in a for a in result)):
                self.fail("bad_result_shape", f"codeAction: {json.dumps(result)[:200]}", req)
            elif result and docs:
                for action in result:
                    self.check_action(p, action, req, docs)
        elif p.method == "textDocument/diagnostic":
            if not isinstance(result, dict) or result.get("kind") not in ("full", "unchanged"):
                self.fail("bad_result_shape", f"diagnostic: {json.dumps(result)[:200]}", req)

    def check_action(self, p: Pending, action: dict, req: dict, docs: list[Document]) -> None:
        """A code action's edits: for this document, and for a version that was the
        document's between the request and the response (the one ``documentChanges``
        names); at character boundaries, not overlapping; a fix of a text that parses
        still parses."""
        title = repr(action.get("title"))
        uri = (p.params.get("textDocument") or {}).get("uri")
        edit = action.get("edit") or {}
        edits: list = []
        named = None
        for u, es in (edit.get("changes") or {}).items():
            if u != uri:
                self.fail("code_action_bad_edit", f"{title}: an edit of another document {u}", req, cause="other document")
                return
            edits.extend(es)
        for dc in edit.get("documentChanges") or []:
            td = dc.get("textDocument") or {}
            if td.get("uri") != uri:
                self.fail("code_action_bad_edit", f"{title}: an edit of another document {td}", req, cause="other document")
                return
            if td.get("version") is not None:
                named = td["version"]
            edits.extend(dc.get("edits") or [])
        if not edits:
            return
        if named is not None:
            docs = [d for d in docs if d.version == named]
            if not docs:
                self.fail("code_action_bad_edit", f"{title}: edits for version {named}, which the document did not have between "
                          f"the request (version {p.snapshot.version}) and the response", req, cause="wrong document version")
                return
        problem = None
        broken = None
        for doc in docs:  # any version the edits fit, and that they leave parsing if it parsed, will do
            try:
                spans = sorted((doc.offset_at(e["range"]["start"]["line"], e["range"]["start"]["character"]),
                                doc.offset_at(e["range"]["end"]["line"], e["range"]["end"]["character"]), e["newText"])
                               for e in edits)
            except MidCharacter as exc:
                problem = problem or ("a position inside a character", str(exc))
                continue
            except (KeyError, TypeError, ValueError) as exc:
                problem = problem or ("unreadable", f"{type(exc).__name__}: {exc}")
                continue
            if any(b1 > a2 for (_, b1, _), (a2, _, _) in zip(spans, spans[1:])):
                problem = problem or ("overlapping edits", "")
                continue
            text = doc.text
            for a, b, new in reversed(spans):
                text = text[:a] + new + text[b:]
            if _parses(doc.text) and not _parses(text):
                broken = broken or (doc, text)
                continue
            if doc is not p.snapshot:
                self.report.later_version_answers += 1
            return
        if broken is not None:
            doc, text = broken
            self.fail("fix_breaks_syntax", f"{title} ({action.get('kind')}) turns a text that parses into one that does "
                      f"not (for every version it could be meant for: {[d.version for d in docs]})",
                      dict(req, version=doc.version, fixed=text), cause=str(action.get("kind")))
            return
        self.fail("code_action_bad_edit", f"{title}: {problem[0]} {problem[1]}", req, cause=problem[0])

    async def settle_requests(self) -> None:
        for p in list(self.client.pending.values()):
            if p.method == "shutdown":
                continue
            got = await self.client.wait(p)
            if got is None:
                if self.client.closed.is_set():
                    return
                self.fail("no_response", f"{p.label}: no response within {REQUEST_TIMEOUT:.0f} s",
                          {"method": p.method, "params": None if p.params is _MISSING else p.params})
            else:
                self.check_response(p, got)

    # ------------------------------------------------------------------ checkpoint
    async def checkpoint(self) -> None:
        self.report.checkpoints += 1
        await self.settle_requests()
        if not self.client.alive() or self.client.closed.is_set():
            self.fail("server_died", f"the server exited (code {self.client.proc.returncode}) during the session",
                      {"stderr": "".join(l for _, l in self.client.stderr[-20:])[-2000:]})
            self.dead = True
            return
        for od in list(self.docs.values()):
            in_sync = await self.check_text(od)
            if in_sync:
                await self.check_diagnostics(od)
            parsed = _parses(od.doc.text)
            od.last_parsed = od.doc.text if parsed else od.last_parsed
            od.unparsed_checkpoints = 0 if parsed else od.unparsed_checkpoints + 1
            od.base_text, od.steps = od.doc.text, []
            od.sent = [(time.monotonic(), od.version, od.doc.text)]
        self.check_stderr()

    def reproducer(self, od: OpenDoc, **extra) -> dict:
        return dict({"profile": self.profile, "encoding": self.encoding, "text_before": od.base_text,
                     "changes": [dict(st) for st in od.steps],
                     "text_after": od.doc.text}, **extra)

    async def check_text(self, od: OpenDoc) -> bool:
        if not self.document_text_supported:
            return True
        p = await self.send_request("documentText", "torch-lsp/documentText", {"textDocument": {"uri": od.uri}}, "result")
        got = await self.client.wait(p)
        if got is None:
            self.fail("no_response", "torch-lsp/documentText: no response", {"uri": od.uri})
            return False
        msg = got[0]
        self.report.response_ms.setdefault(p.method, []).append((got[1] - p.sent) * 1000)
        if "error" in msg:
            if msg["error"].get("code") == -32601:
                self.document_text_supported = False
                self.fail("document_text_request_missing", "torch-lsp/documentText answered MethodNotFound: text equality unchecked")
                return True
            self.fail("error_on_valid_request", f"documentText: {json.dumps(msg['error'])[:300]}")
            return False
        res = msg.get("result")
        if not isinstance(res, dict) or not isinstance(res.get("text"), str):
            self.fail("text_mismatch", f"documentText of an open document gave {json.dumps(res)[:200]}", self.reproducer(od))
            return False
        if res["text"] != od.doc.text:
            self.fail("text_mismatch", _first_difference(od.doc.text, res["text"]),
                      self.reproducer(od, server_text=res["text"]),
                      cause=" ".join(sorted({k for st in od.steps for k in st["kinds"]})))
            await self.resync(od)
            return False
        if res.get("version") != od.version:
            self.fail("version_mismatch", f"server holds version {res.get('version')!r}, last sent {od.version}")
        return True

    async def resync(self, od: OpenDoc) -> None:
        """After a divergence: the whole text again, so the session goes on."""
        od.version += 1
        od.sent.append((time.monotonic(), od.version, od.doc.text))
        await self.client.notify("textDocument/didChange", {"textDocument": {"uri": od.uri, "version": od.version},
                                                            "contentChanges": [{"text": od.doc.text}]})

    async def server_diagnostics(self, od: OpenDoc) -> list | None:
        if self.profile == "neovim":
            p = await self.send_request("diagnostic (checkpoint)", "textDocument/diagnostic",
                                        {"textDocument": {"uri": od.uri}, "identifier": "torch-lsp"}, "result")
            got = await self.client.wait(p)
            if got is None:
                self.fail("no_response", "textDocument/diagnostic at a checkpoint: no response")
                return None
            self.check_response(p, got)
            res = got[0].get("result")
            if not isinstance(res, dict) or not isinstance(res.get("items"), list):
                return None
            od.last_published_version = od.version
            return res["items"]
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while True:
            pubs = self.client.published.get(od.uri) or []
            versions = [v for v, _, _ in pubs]
            if any(isinstance(a, int) and isinstance(b, int) and b < a for a, b in zip(versions, versions[1:])):
                self.fail("publish_version_went_back", f"versions published: {versions[-10:]}")
                self.client.published[od.uri] = pubs[-1:]
            if pubs and pubs[-1][0] == od.version:
                od.last_published_version = od.version
                return pubs[-1][1]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.client.closed.is_set():
                self.fail("no_diagnostics_for_version", f"no publishDiagnostics for version {od.version} within "
                          f"{REQUEST_TIMEOUT:.0f} s (last published: {versions[-3:]})", self.reproducer(od))
                return None
            self.client.publish_event.clear()
            try:
                await asyncio.wait_for(self.client.publish_event.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def check_recovery(self, od: OpenDoc) -> None:
        """For a text with a syntax error the server analyses the statements that do
        parse (``recovery.parse_recovering``), and so does the reference: check on its
        own that each of them is where the text has it (the source at its position
        parses as the same statement), or every diagnostic below is on another line."""
        import ast
        import warnings

        from torch_lsp.analysis.recovery import RECOVERED_TEXT, parse_recovering
        from torch_lsp.analysis.source import split_lines

        text = od.doc.text
        src = parse_recovering(text, od.path)
        if src.tree is None:
            return
        # The recovered tree was parsed from the buffer's lines with the broken
        # statements blanked (a placeholder on their first line): every other line is
        # the buffer's, at the same number, and each statement is where that text has it.
        parsed = getattr(src.tree, RECOVERED_TEXT)
        ours, theirs = split_lines(text) or [""], split_lines(parsed) or [""]
        changed = [i for i in range(min(len(ours), len(theirs))) if ours[i] != theirs[i]]
        wrong = [i for i in changed if theirs[i].strip() and not _is_placeholder(theirs[i])]
        if len(ours) != len(theirs) or wrong:
            self.fail("recovered_statement_misplaced", f"the recovered text has {len(theirs)} lines, the buffer "
                      f"{len(ours)}; lines changed to something else than a blank or a placeholder: {wrong[:5]}",
                      self.reproducer(od), cause="lines")
            return
        for stmt in src.tree.body:
            seg = None
            try:
                seg = ast.get_source_segment(parsed, stmt)  # (its columns may cut a character when misplaced)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    body = ast.parse(seg or "").body
                ok = len(body) == 1 and type(body[0]) is type(stmt)
            except (SyntaxError, ValueError, IndexError):  # UnicodeDecodeError is a ValueError
                ok = False
            if not ok:
                self.fail("recovered_statement_misplaced",
                          f"the {type(stmt).__name__} the recovered tree puts at line {stmt.lineno - 1} (0-based) is not "
                          f"there: the text there is {(seg or '')[:60]!r}", self.reproducer(od), cause=type(stmt).__name__)
                return

    async def check_diagnostics(self, od: OpenDoc) -> None:
        doc = od.doc
        if not _parses(doc.text):
            self.check_recovery(od)
        try:
            ref = self.reference.diagnostics(doc.text, od.path)
        except Exception as exc:  # the engine itself crashed on this text
            self.fail("reference_analysis_crashed", f"{type(exc).__name__}: {exc}", {"text": doc.text})
            return
        items = await self.server_diagnostics(od)
        if items is None:
            return
        od.diags = items
        if self.profile == "neovim" and self.client.published.get(od.uri) and not self.pushed_to_puller:
            self.pushed_to_puller = True
            self.fail("pushed_to_pulling_client", "publishDiagnostics sent to a client that pulls")
        self.check_ranges(od, items)
        want, have = Reference.keys(ref, doc), server_keys(items)
        if want != have:
            from collections import Counter

            missing = list((Counter(want) - Counter(have)).elements())
            extra = list((Counter(have) - Counter(want)).elements())
            self.fail("diagnostics_mismatch", f"version {od.version}: missing {missing[:3]}, unexpected {extra[:3]}",
                      self.reproducer(od), cause=f"missing {sorted({k[0] for k in missing})} "
                                                 f"unexpected {sorted({k[0] for k in extra})}")

    def check_ranges(self, od: OpenDoc, items: list[dict]) -> None:
        doc = od.doc
        for d in items:
            bad = None
            if not doc.range_inside(d.get("range") or {}):
                bad = f"{d.get('code')} range {_fmt_range(d.get('range'))}"
            for r in d.get("relatedInformation") or []:
                loc = r.get("location") or {}
                if loc.get("uri") == od.uri and not doc.range_inside(loc.get("range") or {}):
                    bad = bad or f"{d.get('code')} related range {_fmt_range(loc.get('range'))}"
            if bad:
                line = (d.get("range") or {}).get("start", {}).get("line")
                ctx = {"lines": doc.n_lines}
                if isinstance(line, int) and 0 <= line < doc.n_lines:
                    ctx.update(line_text=doc.line(line), line_units=doc.line_units(line))
                self.fail("range_outside_document", f"{bad} ({ctx}): {str(d.get('message'))[:120]}",
                          self.reproducer(od, diagnostic=d), cause=f"{d.get('code')} {_message_key(str(d.get('message')))}")
                return

    def check_stderr(self) -> None:
        """One failure per Python traceback the server wrote (a log record with its
        traceback is one block: blocks begin at a timestamped log line)."""
        lines = self.client.stderr
        blocks: list[list[tuple[float, str]]] = []
        for t, line in lines[self._stderr_done:]:
            if not blocks or _LOG_LINE.match(line) or (line.startswith("Traceback") and not _in_traceback(blocks[-1])):
                blocks.append([])
            blocks[-1].append((t, line))
        self._stderr_done = len(lines)
        for block in blocks:
            text = "".join(l for _, l in block)
            if "Traceback (most recent call last)" not in text:
                continue
            errors = [l.strip(" |\n") for _, l in block if _EXC_LINE.match(l.strip(" |"))]
            last = errors[-1] if errors else block[-1][1].strip()
            t = block[0][0]
            before = [m for ts, m in self.client.sent_log if ts <= t][-3:]
            self.fail("traceback_in_stderr", last[:300], {"messages_sent_just_before": before, "stderr_excerpt": text[-1500:]},
                      cause=re.sub(r"\d+", "N", last)[:80])
        for problem in self.client.protocol_problems:
            self.fail("protocol_violation", problem)
        self.client.protocol_problems.clear()

    # ------------------------------------------------------------------ headerless message
    async def headerless(self) -> None:
        """A body without its Content-Length header: then valid messages must be
        read and answered ("glued": the next header follows the body at once;
        "newline": the body ends with a line end)."""
        variant = "glued" if self.index % 2 == 0 else "newline"
        od = next(iter(self.docs.values()))
        garbage = json.dumps({"jsonrpc": "2.0", "id": "headerless", "method": "textDocument/hover",
                              "params": {"textDocument": {"uri": od.uri}, "position": {"line": 0, "character": 0}}}).encode()
        self.client.tolerated.add("headerless")
        await self.client.write(raw=garbage + (b"\r\n" if variant == "newline" else b""), header=False)
        probes = [await self.send_request("hover after headerless", "textDocument/hover",
                                          {"textDocument": {"uri": od.uri}, "position": {"line": 0, "character": 0}}, "result")
                  for _ in range(2)]
        for i, p in enumerate(probes):
            got = await self.client.wait(p, 10)
            if got is None:
                self.fail("no_recovery_after_headerless_message",
                          f"variant {variant}: request {i + 1} after a message without Content-Length got no response in 10 s",
                          {"bytes_written": (garbage + (b"\r\n" if variant == "newline" else b"")).decode()
                           + "Content-Length: N\\r\\n\\r\\n{...hover...}"})
                self.dead = True
                return
            self.check_response(p, got)

    # ------------------------------------------------------------------ end
    async def finish(self) -> None:
        c = self.client
        self.report.error_logs.extend(c.error_logs)
        if not self.dead:
            if not c.alive():
                self.fail("server_died", f"exited with {c.proc.returncode} before shutdown")
            rss = c.rss_mb()
            if rss is not None:
                self.report.rss_mb.append(rss)
            code = await c.stop()
            if code != 0:
                self.fail("bad_exit", f"exit code after shutdown + exit: {code}")
            self.check_stderr()
        else:
            await c.kill()


_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_EXC_LINE = re.compile(r"([A-Za-z_][\w.]*)(Error|Exception|Group|Interrupt|Exit)\b")


def _in_traceback(block: list) -> bool:
    return any("Traceback (most recent call last)" in l for _, l in block)


def _cause(detail: str) -> str:
    """What tells two failures of one kind apart: their detail without numbers and
    quoted text."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "Q", detail))[:80]


def _first_difference(want: str, got: str) -> str:
    i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]), min(len(want), len(got)))
    return (f"client has {len(want)} chars, server {len(got)}; first difference at offset {i}: "
            f"client {want[max(0, i - 20):i + 20]!r} vs server {got[max(0, i - 20):i + 20]!r}")


def _fmt_pos(p: Any) -> str:
    try:
        return f"{p['line']}:{p['character']}"
    except (KeyError, TypeError):
        return repr(p)


def _fmt_range(r: Any) -> str:
    try:
        return f"{r['start']['line']}:{r['start']['character']}-{r['end']['line']}:{r['end']['character']}"
    except (KeyError, TypeError):
        return repr(r)


# ============================================================================ shrinking
class Probe:
    """A fresh server to replay a failure in isolation: open a document, send one
    didChange, check the kind of failure again."""

    def __init__(self, profile: str, server: list[str] | None, env: dict | None, workdir: str | None):
        self.report = Report()
        self.session = Session(profile, 0, 0, 0, self.report, server, env, workdir)
        self.n = 0
        self.tries = 0

    async def start(self) -> bool:
        s = self.session
        s.client = LspClient(s.server, s.root, s.env)
        await s.client.start()
        return await s.initialize()

    async def stop(self) -> None:
        await self.session.client.stop()
        shutil.rmtree(self.session.root, ignore_errors=True)

    async def fails(self, kind: str, text: str, steps: list[list[dict]], cause: str | None = None,
                    request: dict | None = None) -> bool:
        """Does opening ``text`` and sending ``steps`` (each a didChange's changes)
        show a failure of ``kind``?"""
        s = self.session
        self.tries += 1
        self.n += 1
        od = await s.open_doc(1000 + self.n, text, 1)
        try:
            for changes in steps:
                try:
                    for c in changes:
                        od.doc.apply(c)
                except (ValueError, IndexError):
                    return False  # the changes no longer fit the text
                od.version += 1
                await s.client.notify("textDocument/didChange", {"textDocument": {"uri": od.uri, "version": od.version},
                                                                 "contentChanges": changes})
            before = len(s.failed)
            s.document_text_supported = kind == "text_mismatch"
            if request is not None:
                snap = Document(od.doc.text, od.doc.encoding)
                snap.version = od.version
                params = _with_uri(request["params"], od.uri)
                p = await s.send_request(request["method"], request["method"], params, "result", snap)
                got = await s.client.wait(p)
                if got is not None:
                    s.check_response(p, got)
            elif kind == "text_mismatch":
                await s.check_text(od)
            else:
                await s.check_diagnostics(od)
            return any(f.kind == kind and (cause is None or f.cause == cause) for f in s.failed[before:])
        finally:
            await s.client.notify("textDocument/didClose", {"textDocument": {"uri": od.uri}})
            del s.docs[od.uri]


def _with_uri(params: Any, uri: str) -> Any:
    if isinstance(params, dict):
        out = dict(params)
        if isinstance(out.get("textDocument"), dict):
            out["textDocument"] = dict(out["textDocument"], uri=uri)
        return out
    return params


def _is_placeholder(line: str) -> bool:
    """A line that parse recovery wrote in place of a broken statement: `pass`,
    assignments of the unknown call, `super().__init__()`, a method of `self` called
    with unknown arguments, `return`/`raise`/`yield` of the unknown call, or a one-line
    `def` of those."""
    import ast

    from torch_lsp.analysis.recovery import UNKNOWN

    try:
        body = ast.parse(line.strip()).body
    except SyntaxError:
        return False
    if len(body) == 1 and isinstance(body[0], ast.FunctionDef):
        body = body[0].body

    def unknown_call(c: ast.Call) -> bool:
        text = ast.unparse(c)
        return text in (UNKNOWN, "super()", "super().__init__()") or (
            [ast.unparse(a) for a in c.args] == [f"*{UNKNOWN}"] and [ast.unparse(k) for k in c.keywords] == [f"**{UNKNOWN}"])

    calls = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Call)]
    return bool(body) and all(unknown_call(c) for c in calls) and all(
        isinstance(stmt, (ast.Pass, ast.Assign, ast.Return, ast.Raise, ast.Expr)) for stmt in body)


def _drop_line(text: str, n: int) -> str:
    spans = Document(text, "utf-32").spans
    if n >= len(spans) - 1:
        return text
    return text[:spans[n][0]] + text[spans[n + 1][0]:]


def _shift(changes: list[dict], n: int) -> list[dict] | None:
    """The changes after deleting line ``n`` of the text they apply to (None when a
    change touches that line)."""
    out = []
    for c in changes:
        if "range" not in c:
            out.append(c)
            continue
        s, e = c["range"]["start"], c["range"]["end"]
        if s["line"] <= n <= e["line"]:
            return None
        f = lambda p: {"line": p["line"] - (p["line"] > n), "character": p["character"]}  # noqa: E731
        out.append({"range": {"start": f(s), "end": f(e)}, "text": c["text"]})
    return out


SHRINKABLE = ("text_mismatch", "diagnostics_mismatch", "range_outside_document", "response_range_outside_document",
              "stale_response", "recovered_statement_misplaced",
              "fix_breaks_syntax", "code_action_bad_edit", "error_on_valid_request")


async def shrink(probe: Probe, failure: Failure, budget: int = 80) -> dict | None:
    """A smaller reproducer of a failure (same kind and cause): the final text opened
    fresh if that alone fails, else the first single didChange of the burst that
    fails alone; then as few lines, and (for a text alone) characters, as still
    fail."""
    kind, cause, rep = failure.kind, failure.cause, failure.reproducer or {}
    if "text_before" not in rep:
        return None
    enc = rep["encoding"]
    steps = [st["changes"] for st in rep["changes"]]
    texts = [rep["text_before"]]
    doc = Document(texts[0], enc)
    for changes in steps:
        for c in changes:
            doc.apply(c)
        texts.append(doc.text)

    request = rep.get("request")

    async def fails(text: str, step: list) -> bool:
        return await probe.fails(kind, text, step, cause, request)

    def result(text: str, step: list, note: str = "") -> dict:
        doc = Document(text, enc)
        for changes in step:
            for c in changes:
                doc.apply(c)
        out = {"profile": rep["profile"], "encoding": enc, "open": text}
        if len(step) == 1:
            out["didChange"] = step[0]
        elif step:
            out["didChanges"] = step
        out["client_text_after"] = doc.text
        if request:
            out["request"] = request
        out["probes"] = probe.tries
        if note:
            out["note"] = note
        return out

    single = None
    if kind != "text_mismatch" and await fails(texts[-1], []):
        single = (texts[-1], [])  # the final text alone, opened fresh, fails
    else:
        for i, changes in enumerate(steps):
            if probe.tries >= budget:
                break
            if await fails(texts[i], [changes]):
                single = (texts[i], [changes])
                break
    if single is None:
        # the shortest tail of the burst that still fails (an earlier state matters)
        for i in range(len(steps) - 2, -1, -1):
            if probe.tries >= budget:
                break
            if await fails(texts[i], steps[i:]):
                return result(texts[i], steps[i:], "needs these changes in a row")
        return {"note": "not reproduced on a fresh server with the changes since the last checkpoint "
                        "(depends on earlier history or timing)", "probes": probe.tries}
    text, step = single
    n = 0
    while probe.tries < budget and n < Document(text, enc).n_lines - 1:  # drop lines
        smaller = _drop_line(text, n)
        moved = (_shift(step[0], n) if len(step[0]) == 1 else None) if step else []
        if smaller != text and moved is not None and await fails(smaller, [moved] if step else []):
            text, step = smaller, [moved] if step else []
        else:
            n += 1
    if not step:  # drop characters: chunks, halving
        chunk = max(1, len(text) // 4)
        while chunk >= 1 and probe.tries < budget:
            i, changed = 0, False
            while i < len(text) and probe.tries < budget:
                smaller = text[:i] + text[i + chunk:]
                if await fails(smaller, []):
                    text, changed = smaller, True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
    return result(text, step)


# ============================================================================ driver
async def _run_sessions(profiles: list[str], sessions: int, edits: int, seed: int, report: Report,
                        server: list[str] | None, env: dict | None, workdir: str | None, parallel: int,
                        shrink_failures: bool) -> None:
    jobs = [(profile, i) for i in range(sessions) for profile in profiles]
    sem = asyncio.Semaphore(max(1, parallel))
    done: list[Session] = []

    async def one(profile: str, i: int) -> None:
        async with sem:
            s = Session(profile, seed, edits, i, report, server, env, workdir)
            await s.run()
            done.append(s)

    await asyncio.gather(*(one(p, i) for p, i in jobs))
    if shrink_failures:
        await shrink_examples(report, server, env, workdir)


async def shrink_examples(report: Report, server: list[str] | None, env: dict | None, workdir: str | None) -> None:
    """Shrink each kept example of the kinds that have a document (one fresh server
    per profile for all the probes)."""
    probes: dict[str, Probe] = {}
    try:
        for kind in SHRINKABLE:
            for f in report.examples.get(kind, []):
                profile = (f.reproducer or {}).get("profile")
                if profile is None:
                    continue
                if profile not in probes:
                    probes[profile] = Probe(profile, server, env, workdir)
                    if not await probes[profile].start():
                        continue
                probes[profile].tries = 0
                f.shrunk = await shrink(probes[profile], f)
    finally:
        for p in probes.values():
            await p.stop()


def run_fuzz(sessions: int = 2, edits: int = 150, seed: int = 0, profiles: tuple[str, ...] = PROFILES,
             server: list[str] | None = None, env: dict | None = None, workdir: str | None = None,
             parallel: int = 2, shrink_failures: bool = True) -> Report:
    """``sessions`` sessions per profile, ``edits`` changes each."""
    report = Report()
    t0 = time.monotonic()
    asyncio.run(_run_sessions(list(profiles), sessions, edits, seed, report, server, env, workdir, parallel,
                              shrink_failures))
    report.seconds = time.monotonic() - t0
    return report


# ============================================================================ CLI batch
def python_lines(data: bytes) -> list[str]:
    """The file's lines (Python's line model: \\n, \\r\\n, \\r), decoded leniently
    (an undecodable byte counts as one code point), without line ends."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        text = data.decode(encoding, "surrogateescape")
    except (LookupError, UnicodeDecodeError):
        text = data.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    doc = Document(text, "utf-32")
    return [doc.line(i) for i in range(doc.n_lines)]


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    """1-3 random mutations of a file's bytes."""
    done = []
    for _ in range(rng.randint(1, 3)):
        m = rng.choice(["flip", "insert_chars", "line_ends", "truncate", "non_utf8", "bom", "cookie", "null",
                        "delete", "specials", "crlf_split"])
        done.append(m)
        n = len(data)
        if m == "flip" and n:
            b = bytearray(data)
            for _ in range(rng.randint(1, 5)):
                b[rng.randrange(n)] = rng.randrange(256)
            data = bytes(b)
        elif m == "insert_chars":
            i = rng.randint(0, n)
            data = data[:i] + "".join(rng.choice(NON_ASCII + SPECIALS + ["(", ")", ":", "'"]) for _ in range(rng.randint(1, 4))).encode() + data[i:]
        elif m == "line_ends":
            end = rng.choice([b"\r\n", b"\r", b"\n\r", b"\x0c\n"])
            data = data.replace(b"\r\n", b"\n").replace(b"\n", end) if rng.random() < 0.6 else \
                b"".join(ln + rng.choice([b"\n", b"\r\n", b"\r"]) for ln in data.splitlines())
        elif m == "truncate" and n:
            data = data[: rng.randrange(n)]
        elif m == "non_utf8":
            i = rng.randint(0, n)
            data = data[:i] + rng.choice([b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x99", b"\x80\x80"]) + data[i:]
        elif m == "bom":
            data = b"\xef\xbb\xbf" + data
        elif m == "cookie":
            data = rng.choice([b"# -*- coding: latin-1 -*-\n", b"# coding: utf-8\n", b"# coding: nonsense\n"]) + data
        elif m == "null":
            i = rng.randint(0, n)
            data = data[:i] + b"\x00" + data[i:]
        elif m == "delete" and n:
            i = rng.randrange(n)
            data = data[:i] + data[i + rng.randint(1, 200):]
        elif m == "specials":
            lines = data.split(b"\n")
            k = rng.randrange(len(lines))
            lines[k] += ("  # " + "".join(rng.choice(SPECIALS + NON_ASCII) for _ in range(3))).encode()
            data = b"\n".join(lines)
        elif m == "crlf_split" and n:
            i = rng.randint(0, n)
            data = data[:i] + rng.choice([b"\r", b"\r\n", b"\n\r"]) + data[i:]
    return data, done


def check_cli_items(items: Any, files: dict[str, bytes], where: str, report: Report, mutations: dict[str, list[str]]) -> None:
    if not isinstance(items, list):
        report.fail(Failure("cli_bad_json", where, f"not a JSON array: {str(items)[:200]}"))
        return
    for it in items:
        path = it.get("path") if isinstance(it, dict) else None
        data = files.get(os.path.realpath(path)) if isinstance(path, str) else None
        if data is None:
            report.fail(Failure("cli_bad_json", where, f"an item for an unknown path: {str(it)[:200]}"))
            continue
        report.cli_diagnostics += 1
        lines = python_lines(data)
        spans = [("diagnostic", it)] + [(f"fix {f.get('title')!r}", e) for f in it.get("fixes") or [] for e in f.get("edits") or []]
        for what, r in spans:
            problem = _cli_range_problem(r, lines)
            if problem:
                ln = r.get("line")
                report.fail(Failure(
                    "cli_range_outside_file", where,
                    f"{os.path.basename(path)}: {it.get('code')} {what} {r.get('line')}:{r.get('column')}-"
                    f"{r.get('end_line')}:{r.get('end_column')}: {problem}",
                    {"code": it.get("code"), "message": str(it.get("message"))[:200], "mutations": mutations.get(os.path.realpath(path)),
                     "line_text": lines[ln - 1] if isinstance(ln, int) and 0 < ln <= len(lines) else None,
                     "file_bytes": repr(data) if len(data) < 4000 else repr(data[:4000]) + "...", "file": path},
                    cause=f"{it.get('code')} {_message_key(str(it.get('message')))} {what.split(' ')[0]}"))
                break


def _cli_range_problem(r: dict, lines: list[str]) -> str | None:
    try:
        l1, c1, l2, c2 = r["line"], r["column"], r["end_line"], r["end_column"]
    except (KeyError, TypeError):
        return "missing line/column fields"
    if not all(isinstance(v, int) for v in (l1, c1, l2, c2)):
        return "non-integer positions"
    for line, col in ((l1, c1), (l2, c2)):
        if not 1 <= line <= len(lines):
            return f"line {line} outside 1..{len(lines)}"
        if not 1 <= col <= len(lines[line - 1]) + 1:
            return f"column {col} outside 1..{len(lines[line - 1]) + 1} (line {line} has {len(lines[line - 1])} code points)"
    if (l1, c1) > (l2, c2):
        return "start after end"
    return None


def corpus_files(corpus: Path = CORPUS) -> list[Path]:
    files = sorted(corpus.rglob("*.py")) if corpus.is_dir() else []
    if not files:  # without the shared corpus: the repository's own examples
        files = sorted((REPO / "tests" / "e2e").glob("*.py")) + sorted((REPO / "tests" / "cli_cases").glob("*.py"))
    return files


def run_cli_batch(n_files: int = 60, seed: int = 0, corpus: Path = CORPUS, cmd: list[str] | None = None,
                  env: dict | None = None, workdir: str | None = None, shrink_failures: bool = True) -> Report:
    report = Report()
    t0 = time.monotonic()
    rng = random.Random(f"cli-{seed}")
    sources = corpus_files(corpus)
    root = os.path.realpath(tempfile.mkdtemp(prefix="lspfuzz-cli-", dir=workdir))
    try:
        files: dict[str, bytes] = {}
        mutations: dict[str, list[str]] = {}
        for i in range(n_files):
            src = rng.choice(sources)
            data, done = mutate(src.read_bytes(), rng)
            path = os.path.join(root, f"m{i:04d}_{src.stem}.py")
            with open(path, "wb") as f:
                f.write(data)
            files[path], mutations[path] = data, done
        report.cli_files = n_files
        where = f"cli seed={seed}"
        proc = subprocess.run((cmd or CHECK) + ["--format", "json", root], capture_output=True, cwd=root, env=env, timeout=900)
        if proc.returncode not in (0, 1):
            report.fail(Failure("cli_exit_code", where, f"exit code {proc.returncode}: "
                                f"{proc.stderr.decode('utf-8', 'replace')[-800:]}"))
        try:
            items = json.loads(proc.stdout)
        except ValueError as exc:
            report.fail(Failure("cli_bad_json", where, f"{exc}: {proc.stdout[:300]!r}"))
            items = []
        check_cli_items(items, files, where, report, mutations)
        if b"Traceback" in proc.stderr:
            report.fail(Failure("cli_traceback", where, proc.stderr.decode("utf-8", "replace")[-800:]))
        if shrink_failures and report.examples.get("cli_range_outside_file"):
            shrink_cli_examples(report.examples["cli_range_outside_file"], files, cmd, env, workdir)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report.seconds = time.monotonic() - t0
    return report


def _message_key(message: str) -> str:
    """A diagnostic message without its numbers and details (same problem, other lines)."""
    return re.sub(r"\d+", "N", message.split("; ")[0])[:60]


def shrink_cli_examples(examples: list[Failure], files: dict[str, bytes], cmd: list[str] | None, env: dict | None,
                        workdir: str | None, rounds: int = 40) -> None:
    """Shrink the files of CLI failures (same code, message and a range outside the
    file) by dropping lines, then bytes, in chunks that halve; every candidate of every
    example in a round is checked by one CLI run over a folder of them."""
    state = {}
    for k, f in enumerate(examples):
        data = files.get(os.path.realpath(f.reproducer["file"]))
        if data is not None:
            state[k] = {"data": data, "phase": "lines", "chunk": max(1, data.count(b"\n") // 2), "code": f.reproducer["code"],
                        "key": _message_key(f.reproducer["message"])}
    d = tempfile.mkdtemp(prefix="lspfuzz-shrink-", dir=workdir)
    try:
        for _ in range(rounds):
            active = {k: st for k, st in state.items() if st["phase"] != "done"}
            if not active:
                break
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
            cands: dict[str, tuple[int, int, bytes]] = {}
            for k, st in active.items():
                parts = st["data"].splitlines(keepends=True) if st["phase"] == "lines" else [bytes([b]) for b in st["data"]]
                for j in range(0, len(parts), st["chunk"]):
                    cand = b"".join(parts[:j] + parts[j + st["chunk"]:])
                    path = os.path.join(d, f"c{k:02d}_{j:05d}.py")
                    with open(path, "wb") as fh:
                        fh.write(cand)
                    cands[os.path.realpath(path)] = (k, j, cand)
            out = subprocess.run((cmd or CHECK) + ["--format", "json", d], capture_output=True, cwd=d, env=env, timeout=600)
            try:
                items = json.loads(out.stdout)
            except ValueError:
                items = []
            best: dict[int, tuple[int, bytes]] = {}
            for it in items if isinstance(items, list) else []:
                c = cands.get(os.path.realpath(str(it.get("path")))) if isinstance(it, dict) else None
                if c is None:
                    continue
                k, j, cand = c
                st = state[k]
                if it.get("code") == st["code"] and _message_key(str(it.get("message", ""))) == st["key"] \
                        and _cli_range_problem(it, python_lines(cand)) and (k not in best or j < best[k][0]):
                    best[k] = (j, cand)
            for k, st in active.items():
                if k in best:
                    st["data"] = best[k][1]
                elif st["chunk"] > 1:
                    st["chunk"] //= 2
                elif st["phase"] == "lines":
                    st["phase"], st["chunk"] = "bytes", max(1, len(st["data"]) // 4)
                else:
                    st["phase"] = "done"
        for k, st in state.items():
            examples[k].shrunk = {"file_bytes": repr(st["data"])}
    finally:
        shutil.rmtree(d, ignore_errors=True)
